#include "marl_rec/embed/precomputed_embedder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/io/fvecs.hpp"
#include "marl_rec/io/npy.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"
#include "support/embedding.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;
using mr::PrecomputedEmbedder;
using mr::test::error_of;

namespace {

const std::string data_dir = MARL_REC_TEST_DATA_DIR "/embed_precomputed/";

template <class E>
std::vector<float> embed(const E& e, std::string_view text) {
  return mr::test::embedded(e, text);
}

std::vector<float> row_of(mr::MatrixView m, std::size_t r) {
  return {m.row(r).begin(), m.row(r).end()};
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Near misses of the Embedder concept.
struct EmbedNotConst {
  std::size_t dim() const { return 1; }
  void embed(std::string_view, std::span<float>) {}
};
struct NoDim {
  void embed(std::string_view, std::span<float>) const {}
};

// Rows of unit length (as normalised exports are): 3-4-5 triangles and axis vectors.
const std::vector<float> unit_rows = {0.6f, 0.8f,  0.0f, 0.0f,  //
                                      0.0f, 0.0f,  1.0f, 0.0f,  //
                                      0.0f, -0.8f, 0.0f, 0.6f};

// The example of docs/embedders.md ("PrecomputedEmbedder (vectors from any LLM)"): the docs
// show the lines between the markers.
std::vector<float> docs_example(const std::string& npy_path, const std::string& ids_path) {
  // [docs example begin]
  const auto items = marl_rec::PrecomputedEmbedder::from_npy(npy_path, ids_path);
  std::vector<float> v(items.dim());
  items.embed("sku-2", v);                          // the vector of item "sku-2"
  const marl_rec::MatrixView all = items.matrix();  // every item: row i is items.ids()[i]
  // [docs example end]
  CHECK(all.rows() == items.ids().size());
  return v;
}

}  // namespace

TEST_CASE("PrecomputedEmbedder: the docs example") {
  mr::test::TempDir dir;
  const std::vector<float> rows = {3, 4, 0, 0, 0, 0, 5, 0};
  io::write_npy(dir.path("items.npy"), mr::MatrixView(rows, 2, 4));
  const std::string ids = dir.write("items.ids", std::string_view("sku-1\nsku-2\n"));
  CHECK(docs_example(dir.path("items.npy"), ids) == std::vector<float>{0, 0, 1, 0});
}

TEST_CASE("PrecomputedEmbedder satisfies Embedder, near misses do not") {
  static_assert(mr::Embedder<PrecomputedEmbedder>);
  static_assert(!mr::BatchEmbedder<PrecomputedEmbedder>);  // embed_batch goes one id at a time
  static_assert(!mr::Embedder<EmbedNotConst>);
  static_assert(!mr::Embedder<NoDim>);
  static_assert(std::is_copy_constructible_v<PrecomputedEmbedder>);
}

TEST_CASE("PrecomputedEmbedder::from_npy: a NumPy file and an ids file, rows normalised") {
  const PrecomputedEmbedder e =
      PrecomputedEmbedder::from_npy(data_dir + "f4.npy", data_dir + "ids.txt");
  CHECK(e.dim() == 4);
  CHECK(e.size() == 3);
  CHECK(e.ids() == std::vector<std::string>{"a", "b", "c"});
  CHECK(embed(e, "a") == std::vector<float>{0.6f, 0.8f, 0.0f, 0.0f});
  CHECK(embed(e, "b") == std::vector<float>{0.0f, 0.0f, 1.0f, 0.0f});
  CHECK(embed(e, "c") == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
  CHECK(e.find("c") == std::optional<std::size_t>(2));
  CHECK(e.find("z") == std::nullopt);
  CHECK(e.find("") == std::nullopt);
  CHECK(row_of(e.matrix(), 1) == embed(e, "b"));
  CHECK(reinterpret_cast<std::uintptr_t>(e.matrix().data()) % 64 == 0);
  CHECK_FALSE(e.memory_mapped());  // rows needed scaling: a copy

  // float16, version 2.0 and 3.0 files give the same table.
  for (const char* name : {"f2.npy", "v2.npy", "v3.npy"}) {
    CAPTURE(name);
    const PrecomputedEmbedder other =
        PrecomputedEmbedder::from_npy(data_dir + name, data_dir + "ids.txt");
    CHECK(same_bits({e.matrix().data(), 12}, {other.matrix().data(), 12}));
  }

  // The generic batch form works through embed.
  std::vector<float> out(2 * 4);
  const std::vector<std::string_view> ids = {"c", "a"};
  mr::embed_batch(e, ids, mr::MutableMatrixView(out, 2, 4));
  CHECK(out == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f, 0.6f, 0.8f, 0.0f, 0.0f});
}

TEST_CASE(
    "PrecomputedEmbedder::from_npy: a float32 table of unit rows is used in place from the map") {
  mr::test::TempDir dir;
  const std::string ids = dir.write("ids.txt", std::string_view("x\ny\nz\n"));
  const std::string npy = dir.path("unit.npy");
  io::write_npy(npy, mr::MatrixView(unit_rows, 3, 4));

  const PrecomputedEmbedder mapped = PrecomputedEmbedder::from_npy(npy, ids);
  CHECK(mapped.memory_mapped());
  CHECK(reinterpret_cast<std::uintptr_t>(mapped.matrix().data()) % 64 == 0);
  CHECK(same_bits({mapped.matrix().data(), 12}, unit_rows));
  CHECK(embed(mapped, "z") == std::vector<float>{0.0f, -0.8f, 0.0f, 0.6f});

  // Copies share the map; the map lives as long as any copy.
  std::optional<PrecomputedEmbedder> first(mapped);
  const PrecomputedEmbedder second = *first;
  first.reset();
  CHECK(embed(second, "x") == std::vector<float>{0.6f, 0.8f, 0.0f, 0.0f});

  // The same file, copied: memory_map off, or normalize off (no scaling needed either way).
  const PrecomputedEmbedder copied = PrecomputedEmbedder::from_npy(npy, ids, {.memory_map = false});
  CHECK_FALSE(copied.memory_mapped());
  CHECK(same_bits({copied.matrix().data(), 12}, unit_rows));
  CHECK(PrecomputedEmbedder::from_npy(npy, ids, {.normalize = false}).memory_mapped());

  // Rows within 1e-5 of unit squared length are kept bit for bit (still mapped) ...
  std::vector<float> nearly = unit_rows;
  nearly[0] = 0.600004f;  // squared length 1 + 4.8e-6
  io::write_npy(npy, mr::MatrixView(nearly, 3, 4));
  const PrecomputedEmbedder kept = PrecomputedEmbedder::from_npy(npy, ids);
  CHECK(kept.memory_mapped());
  CHECK(kept.matrix().row(0)[0] == 0.600004f);
  // ... a row further off is scaled, on a copy, and the other rows stay bit for bit.
  nearly[0] = 0.61f;
  io::write_npy(npy, mr::MatrixView(nearly, 3, 4));
  const PrecomputedEmbedder scaled = PrecomputedEmbedder::from_npy(npy, ids);
  CHECK_FALSE(scaled.memory_mapped());
  const double n2 = 0.61 * 0.61 + 0.8 * 0.8;
  CHECK(scaled.matrix().row(0)[0] == doctest::Approx(0.61 / std::sqrt(n2)).epsilon(1e-6));
  CHECK(same_bits(scaled.matrix().row(1), std::span(unit_rows).subspan(4, 4)));
  CHECK(same_bits(scaled.matrix().row(2), std::span(unit_rows).subspan(8, 4)));

  // Data not at a multiple of 64 bytes (an unpadded header): copied.
  std::vector<std::byte> bytes = io::npy_bytes(mr::MatrixView(unit_rows, 3, 4));
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)}\n";
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size());
  file += '\0';
  file += header;
  file.append(reinterpret_cast<const char*>(bytes.data()) + 128, 48);
  const PrecomputedEmbedder unaligned =
      PrecomputedEmbedder::from_npy(dir.write("u.npy", file), ids);
  CHECK_FALSE(unaligned.memory_mapped());
  CHECK(same_bits({unaligned.matrix().data(), 12}, unit_rows));
}

TEST_CASE("PrecomputedEmbedder: normalize off requires unit rows, and names the id otherwise") {
  const auto e = [] {
    PrecomputedEmbedder::from_npy(data_dir + "f4.npy", data_dir + "ids.txt", {.normalize = false});
  };
  CHECK(error_of(e) == "PrecomputedEmbedder: " + data_dir +
                           "f4.npy row 1 (id 'a'): length 5.000000, expected 1 within 0.001000 "
                           "(normalize is off: the rows must already have unit length)");
  std::vector<float> rows = unit_rows;
  rows[0] = 0.6005f;  // length 1.0003: within the default tolerance
  const PrecomputedEmbedder loose({"x", "y", "z"}, mr::MatrixView(rows, 3, 4),
                                  {.normalize = false});
  CHECK(loose.matrix().row(0)[0] == 0.6005f);
  CHECK(error_of([&] {
          PrecomputedEmbedder({"x", "y", "z"}, mr::MatrixView(rows, 3, 4),
                              {.normalize = false, .norm_tolerance = 1e-4f});
        }).find("row 1 (id 'x'): length 1.000300, expected 1 within 0.000100") !=
        std::string::npos);
}

TEST_CASE("PrecomputedEmbedder: a negative or NaN norm_tolerance is refused") {
  for (const float t : {-1.0f, std::numeric_limits<float>::quiet_NaN()}) {
    CHECK(error_of([&] {
            PrecomputedEmbedder({"x"}, mr::MatrixView(unit_rows, 1, 4), {.norm_tolerance = t});
          }) == "PrecomputedEmbedder: Config::norm_tolerance must be finite and >= 0");
  }
}

TEST_CASE("PrecomputedEmbedder: extreme magnitudes normalise correctly") {
  const float tiny = std::numeric_limits<float>::denorm_min();
  const float huge = std::numeric_limits<float>::max();
  const std::vector<float> rows = {tiny, 0.0f, 0.0f, huge, huge, 0.0f, 3e-39f, -4e-39f, 0.0f};
  const PrecomputedEmbedder e({"tiny", "huge", "small"}, mr::MatrixView(rows, 3, 3));
  CHECK(embed(e, "tiny") == std::vector<float>{1.0f, 0.0f, 0.0f});
  CHECK(embed(e, "huge")[0] == doctest::Approx(std::sqrt(0.5)));
  CHECK(embed(e, "huge")[1] == doctest::Approx(std::sqrt(0.5)));
  CHECK(embed(e, "small")[0] == doctest::Approx(0.6));
  CHECK(embed(e, "small")[1] == doctest::Approx(-0.8));
}

TEST_CASE("PrecomputedEmbedder::from_fvecs and the in-memory constructor") {
  mr::test::TempDir dir;
  const std::vector<float> rows = {3, 4, 0, 2, 5, 12};
  io::write_fvecs(dir.path("v.fvecs"), mr::MatrixView(rows, 3, 2));
  const PrecomputedEmbedder f = PrecomputedEmbedder::from_fvecs(
      dir.path("v.fvecs"),
      dir.write("ids.txt", std::string_view("p\r\nq\r\nr")));  // CRLF, no final
  CHECK(f.dim() == 2);
  CHECK(f.ids() == std::vector<std::string>{"p", "q", "r"});
  CHECK(embed(f, "p") == std::vector<float>{0.6f, 0.8f});
  CHECK(embed(f, "q") == std::vector<float>{0.0f, 1.0f});
  CHECK(embed(f, "r")[1] == doctest::Approx(12.0 / 13.0));
  CHECK_FALSE(f.memory_mapped());

  // In memory: a strided view is copied without its padding.
  const std::vector<float> padded = {1, 0, 99, 0, 2, 99};
  const PrecomputedEmbedder m({"u", "v"}, mr::MatrixView(padded, 2, 2, 3));
  CHECK(embed(m, "v") == std::vector<float>{0.0f, 1.0f});
  CHECK(m.matrix().stride() == 2);
}

TEST_CASE("PrecomputedEmbedder::from_csv: with or without a header row") {
  mr::test::TempDir dir;
  const auto load = [&](std::string_view text) {
    return PrecomputedEmbedder::from_csv(dir.write("v.csv", text));
  };
  const std::vector<float> a = {0.6f, 0.8f};
  CHECK(embed(load("a,3,4\nb,0,2\n"), "a") == a);          // no header
  CHECK(embed(load("id,v0,v1\na,3,4\n"), "a") == a);       // named columns
  CHECK(embed(load("ITEM_ID,0,1\na,3,4\n"), "a") == a);    // an id column and numbers
  CHECK(embed(load(",0,1\na,3,4\nb,1,0\n"), "a") == a);    // pandas: df.to_csv()
  CHECK(embed(load("\"x,y\",3,4\r\nb,1,0"), "x,y") == a);  // quoted ids, CRLF
  const PrecomputedEmbedder e = load("user_id,e0,e1\nu1,1,0\nu2,0,-1e-3\n");
  CHECK(e.ids() == std::vector<std::string>{"u1", "u2"});
  CHECK(embed(e, "u2") == std::vector<float>{0.0f, -1.0f});

  const auto bad = [&](std::string_view text) { return error_of([&] { load(text); }); };
  const std::string f = dir.path("v.csv");
  CHECK(bad("") == f + ": no vectors (the file is empty)");
  CHECK(bad("id,v0\n") == f + ": no vectors (only a header row)");
  CHECK(bad("a\nb\n") ==
        f + ":1: expected an id and at least one value (id,v0,v1,...), got one field");
  CHECK(bad("a,1,2\nb,1\n") == f + ":2: expected 3 fields (as in the first row), got 2");
  CHECK(bad("a,1,2\n,1,2\n") == f + ":2:1 (id): expected an id, got an empty field");
  CHECK(bad("a,1,2\nb,1,x\n") == f + ":2:5: expected a number, got 'x'");
  CHECK(bad("a,1,2\nb,1,1e39\n") ==
        f + ":2:5: expected a number within the range of float, got '1e39'");
  CHECK(bad("a,1,2\nb,1,1e999\n") ==
        f + ":2:5: expected a number within the range of double, got '1e999'");
  CHECK(bad("a,1,2\nb,nan,1\n") ==
        "PrecomputedEmbedder: " + f +
            ":2 (id 'b'): element [0] is NaN (every value must be finite)");
  CHECK(bad("a,1,2\nb,1,-inf\n") ==
        "PrecomputedEmbedder: " + f +
            ":2 (id 'b'): element [1] is infinite (every value must be finite)");
  CHECK(bad("a,1,2\nb,0,0\n") == "PrecomputedEmbedder: " + f +
                                     ":2 (id 'b'): the vector is all zeros: it has no direction, "
                                     "and an embedding must have unit length");
  CHECK(bad("id,v0\na,1\nb,1\n\"a\",1\n") ==
        "PrecomputedEmbedder: duplicate id 'a' at " + f + ":2 and " + f + ":4");
  CHECK(error_of([] { PrecomputedEmbedder::from_csv("/nonexistent/v.csv"); }) ==
        "/nonexistent/v.csv: cannot open: no such file");
}

TEST_CASE(
    "PrecomputedEmbedder: bad ids files and mismatches are errors naming files, lines and ids") {
  mr::test::TempDir dir;
  const std::string npy = data_dir + "f4.npy";
  const auto with_ids = [&](std::string_view ids) {
    return error_of([&] { PrecomputedEmbedder::from_npy(npy, dir.write("ids.txt", ids)); });
  };
  const std::string ids = dir.path("ids.txt");
  CHECK(with_ids("a\nb\n") ==
        "PrecomputedEmbedder: " + ids + " has 2 ids but " + npy + " has 3 rows");
  CHECK(with_ids("a\nb\nc\nd") ==
        "PrecomputedEmbedder: " + ids + " has 4 ids but " + npy + " has 3 rows");
  CHECK(with_ids("a\nb\na\n") ==
        "PrecomputedEmbedder: duplicate id 'a' at " + ids + ":1 and " + ids + ":3");
  CHECK(with_ids("a\n\nc\n") == ids + ":2: expected an id, got a blank line");
  CHECK(with_ids("a\nb\nc\n\n") == ids + ":4: expected an id, got a blank line");
  CHECK(with_ids("") == ids + ": no ids (the file is empty)");
  CHECK(with_ids(std::string_view("a\nb\0x\nc\n", 9)) ==
        ids + ":2: expected an id, got a NUL byte (is this a binary file?)");
  CHECK(with_ids("a\nb\xFF\nc\n") == ids + ":2: expected an id in UTF-8, got 'b\\xFF'");
  // A BOM is not part of the first id; spaces are.
  const PrecomputedEmbedder bom = PrecomputedEmbedder::from_npy(npy, dir.write("ids.txt",
                                                                               "\xEF\xBB\xBF"
                                                                               "a\n b\nc \n"));
  CHECK(bom.ids() == std::vector<std::string>{"a", " b", "c "});
  CHECK(error_of([&] { PrecomputedEmbedder::from_npy(npy, "/nonexistent/ids.txt"); }) ==
        "/nonexistent/ids.txt: cannot open: No such file or directory");

  // Values: NaN / infinity name the id; zero rows and empty tables are refused.
  std::vector<float> rows = unit_rows;
  rows[6] = std::numeric_limits<float>::quiet_NaN();
  io::write_npy(dir.path("nan.npy"), mr::MatrixView(rows, 3, 4));
  const std::string xyz = dir.write("xyz.txt", std::string_view("x\ny\nz\n"));
  CHECK(error_of([&] { PrecomputedEmbedder::from_npy(dir.path("nan.npy"), xyz); }) ==
        std::string("PrecomputedEmbedder: ") + dir.path("nan.npy") +
            " row 2 (id 'y'): element [2] is NaN (every value must be finite)");
  rows[6] = std::numeric_limits<float>::infinity();
  io::write_fvecs(dir.path("inf.fvecs"), mr::MatrixView(rows, 3, 4));
  CHECK(error_of([&] { PrecomputedEmbedder::from_fvecs(dir.path("inf.fvecs"), xyz); }) ==
        std::string("PrecomputedEmbedder: ") + dir.path("inf.fvecs") +
            " row 2 (id 'y'): element [2] is infinite (every value must be finite)");
  rows = unit_rows;
  std::fill(rows.begin() + 8, rows.end(), 0.0f);
  CHECK(error_of([&] {
          PrecomputedEmbedder({"x", "y", "z"}, mr::MatrixView(rows, 3, 4));
        }) ==
        "PrecomputedEmbedder: row 3 (id 'z'): the vector is all zeros: it has no direction, and an "
        "embedding must have unit length");
  CHECK(error_of([&] {
          PrecomputedEmbedder({"x", "y"}, mr::MatrixView(rows, 3, 4));
        }) == "PrecomputedEmbedder: 2 ids but 3 rows");
  CHECK(error_of([&] {
          PrecomputedEmbedder({"x", "y", "x"}, mr::MatrixView(unit_rows, 3, 4));
        }) == "PrecomputedEmbedder: duplicate id 'x' at row 1 and row 3");
  CHECK(error_of([&] { PrecomputedEmbedder({}, mr::MatrixView()); }) ==
        "PrecomputedEmbedder: the matrix has no vectors (0 rows)");
  CHECK(error_of([&] { PrecomputedEmbedder({"x"}, mr::MatrixView(rows, 1, 0)); }) ==
        "PrecomputedEmbedder: the matrix has vectors of dimension 0");
  const std::string empty_npy = dir.write("e.npy", std::string_view());
  CHECK(error_of([&] { PrecomputedEmbedder::from_npy(empty_npy, xyz); }) ==
        empty_npy + ": not a .npy file: the file is empty");
  CHECK(error_of([&] {
          PrecomputedEmbedder::from_npy(data_dir + "fortran.npy", data_dir + "ids.txt");
        }).find("Fortran order") != std::string::npos);
}

TEST_CASE("PrecomputedEmbedder::embed: unknown ids and wrong sizes are errors") {
  const PrecomputedEmbedder e({"x", "y", "z"}, mr::MatrixView(unit_rows, 3, 4));
  std::vector<float> out(4);
  CHECK(error_of([&] { e.embed("w", out); }) == "PrecomputedEmbedder::embed: unknown id 'w'");
  CHECK(error_of([&] { e.embed("", out); }) == "PrecomputedEmbedder::embed: unknown id ''");
  std::vector<float> small(3);
  CHECK(error_of([&] { e.embed("x", small); }) ==
        "PrecomputedEmbedder::embed: out has 3 floats, dim is 4");
}

TEST_CASE("PrecomputedEmbedder: many ids, looked up from several threads") {
  constexpr std::size_t n = 5000;
  constexpr std::size_t d = 8;
  std::vector<std::string> ids;
  std::vector<float> rows(n * d, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back(mr::numbered_id("item", i));
    rows[i * d + i % d] = static_cast<float>(i + 1);
  }
  const PrecomputedEmbedder e(ids, mr::MatrixView(rows, n, d));
  std::vector<std::thread> threads;
  std::vector<std::size_t> wrong(4, 0);
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out(d);
      for (std::size_t i = t; i < n; i += 2) {
        e.embed(ids[i], out);
        if (out[i % d] != 1.0f || e.find(ids[i]) != i) ++wrong[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(wrong == std::vector<std::size_t>(4, 0));
}
