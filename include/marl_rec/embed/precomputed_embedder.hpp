// marl_rec — an Embedder over vectors computed elsewhere (by any LLM or embedding model) and
// exported to a file, keyed by item or user id: .npy + ids file, .fvecs + ids file, or CSV.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/io/csv.hpp"
#include "marl_rec/io/fvecs.hpp"
#include "marl_rec/io/mapped_file.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/npy.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace marl_rec {

namespace detail {

/// Σ x[i]² in double, in an order that does not depend on the platform or the SIMD width: eight
/// fixed stripes (x[i] goes to stripe i mod 8), added in a fixed tree at the end. Compilers
/// vectorise the stripes, which keeps the order, so every build makes the same normalisation
/// decisions and computes the same scale. Each product is exact in double, so FMA contraction
/// does not change the result either. Not finite when an element is NaN or infinite.
inline double precomputed_squared_norm(const float* x, std::size_t n) noexcept {
  constexpr std::size_t stripes = 8;
  double s[stripes] = {};
  const std::size_t full = n / stripes * stripes;
  for (std::size_t i = 0; i < full; i += stripes) {
    for (std::size_t k = 0; k < stripes; ++k) {
      s[k] += static_cast<double>(x[i + k]) * static_cast<double>(x[i + k]);
    }
  }
  // The tail as its own bounded loop (a `for (; i < n; ++i)` tail draws a false
  // -Waggressive-loop-optimizations from GCC 12 with -march=native).
  for (std::size_t k = 0; k < n - full; ++k) {
    s[k] += static_cast<double>(x[full + k]) * static_cast<double>(x[full + k]);
  }
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/// An open-addressing hash index from id to row over a vector of ids (which it does not own).
/// Each 8-byte slot holds the row and 32 bits of the id's hash, so a probe compares strings only
/// when the hash bits match; the load factor is at most 1/2. A million ids cost 16 MB and no
/// per-id allocation (a std::unordered_map would allocate a node per id), and building the index
/// prefetches the slots ahead, so it runs at memory speed rather than one cache miss per id.
class PrecomputedIdIndex {
 public:
  /// Indexes `ids` (at most 2^32 - 2 of them); on the first id seen twice, calls
  /// on_duplicate(first row, second row), which must throw.
  template <class OnDuplicate>
  void build(const std::vector<std::string>& ids, OnDuplicate&& on_duplicate) {
    std::size_t capacity = 2;
    while (capacity < 2 * ids.size()) capacity *= 2;
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    std::vector<std::uint64_t> hashes(ids.size());
    for (std::size_t row = 0; row < ids.size(); ++row) hashes[row] = hash(ids[row]);
    constexpr std::size_t ahead = 16;
    for (std::size_t row = 0; row < ids.size(); ++row) {
#if defined(__GNUC__) || defined(__clang__)
      if (row + ahead < ids.size()) __builtin_prefetch(&slots_[hashes[row + ahead] & mask_], 1);
#endif
      const std::uint64_t h = hashes[row];
      const std::uint64_t tag = h >> 32;
      for (std::size_t slot = h & mask_;; slot = (slot + 1) & mask_) {
        const std::uint64_t entry = slots_[slot];
        if (entry == 0) {
          slots_[slot] = (tag << 32) | (row + 1);
          break;
        }
        const std::size_t other = static_cast<std::size_t>(entry & 0xFFFFFFFFu) - 1;
        if ((entry >> 32) == tag && ids[other] == ids[row]) on_duplicate(other, row);
      }
    }
  }

  /// The row of `id` in `ids` (the vector given to build), if there.
  std::optional<std::size_t> find(const std::vector<std::string>& ids,
                                  std::string_view id) const noexcept {
    if (slots_.empty()) return std::nullopt;
    const std::uint64_t h = hash(id);
    const std::uint64_t tag = h >> 32;
    for (std::size_t slot = h & mask_;; slot = (slot + 1) & mask_) {
      const std::uint64_t entry = slots_[slot];
      if (entry == 0) return std::nullopt;
      const std::size_t row = static_cast<std::size_t>(entry & 0xFFFFFFFFu) - 1;
      if ((entry >> 32) == tag && ids[row] == id) return row;
    }
  }

 private:
  static std::uint64_t hash(std::string_view id) noexcept {
    return static_cast<std::uint64_t>(std::hash<std::string_view>{}(id));
  }

  std::vector<std::uint64_t> slots_{};  // (hash >> 32) << 32 | (row + 1); 0 is empty
  std::size_t mask_ = 0;
};

}  // namespace detail

/// Vectors exported from any LLM or embedding model, keyed by item or user id: `embed(id, out)`
/// copies the vector of `id` (the "text" is the id). Satisfies Embedder.
///
/// Sources (every factory throws marl_rec::Error naming the file and what was wrong; nothing is
/// half-loaded):
/// - `from_npy(vectors.npy, ids.txt)`: a float32 ('<f4') or float16 ('<f2') .npy of shape
///   (n, dim) (or (dim,) for one vector) — see io::parse_npy_header — with an ids file;
/// - `from_fvecs(vectors.fvecs, ids.txt)`: an .fvecs file with an ids file;
/// - `from_csv(vectors.csv)`: rows `id,v0,v1,...`, with or without a header row;
/// - the constructor: ids and a matrix already in memory.
///
/// The ids file is plain text, one id per line, in the order of the rows (UTF-8, LF or CRLF line
/// ends, a final line end optional, a UTF-8 BOM skipped, no header). Ids are taken exactly as
/// written (spaces included; "007" and "7" differ); a blank line is an error, not an id.
///
/// Checks: as many ids as rows; no empty or duplicate id (the message names the id and both
/// lines); dim ≥ 1 and at least one row; every value finite (the message names the id); no row of
/// zeros. With `normalize` (the default) every row is scaled to unit length, since the Embedder
/// contract promises unit vectors; rows whose squared length is already within 1e-5 of 1 (which
/// normalised float32 exports are) are kept bit for bit. Without it every row must already have
/// unit length within `norm_tolerance`, else the load fails naming the id.
///
/// Memory map: with `memory_map` (the default), `from_npy` maps the file and uses its float32 data
/// in place — no copy, and processes that load the same file share its pages — exactly when the
/// dtype is '<f4', the host is little-endian, the data starts at a multiple of 64 bytes from the
/// start of the file (np.save pads the header so since NumPy 1.14; the rows are then 64-byte
/// aligned like every marl_rec matrix), and no row needs scaling (no normalisation, or every row
/// already of unit length). Otherwise the values are copied into memory the embedder owns.
/// `memory_mapped()` says which happened. A mapped file must not change or shrink while any copy
/// of the embedder lives (see io::MappedFile); when that cannot be promised, set memory_map off.
///
/// Copies share the (immutable) table, so copying is cheap; `embed`, `find`, `matrix` and `ids`
/// are safe to call from many threads at once.
///
/// Persistence: save() writes the Config, the ids and the vectors as they are served (type
/// "precomputed_embedder", version 1); load() (or from_saved()) gives this embedder a new table
/// of its own, in memory (not memory-mapped). Other copies keep the table they share, and views
/// of it (matrix(), ids()) taken from this embedder before the load stay valid as long as such a
/// copy lives, and no longer.
class PrecomputedEmbedder {
 public:
  struct Config {
    /// Scale every row to unit length at load (rows already of unit length are kept as they
    /// are). When false, every row must already have unit length within norm_tolerance.
    bool normalize{true};
    /// Use a float32 .npy's data in place from a memory map when possible (see the class).
    bool memory_map{true};
    /// With normalize off: the largest accepted |length − 1| of a row.
    float norm_tolerance{1e-3f};
  };

  /// The vectors of the .npy file at `npy_path`, named by the ids file at `ids_path`.
  static PrecomputedEmbedder from_npy(const std::string& npy_path, const std::string& ids_path) {
    return from_npy(npy_path, ids_path, Config{});
  }
  static PrecomputedEmbedder from_npy(const std::string& npy_path, const std::string& ids_path,
                                      const Config& config) {
    auto table = std::make_shared<Table>();
    table->ids = read_ids(ids_path);
    io::MappedFile file(npy_path, io::MapAccess::whole_file);
    const io::NpyHeader header = io::parse_npy_header(file.bytes(), npy_path);
    const Origin origin{.ids_source = ids_path, .values_source = npy_path, .lines = {}};
    const std::size_t rows = header.rows;
    const std::size_t cols = header.cols;
    index_ids(rows, cols, *table, origin, config);
    const std::byte* data = file.data() + header.data_offset;

    if (config.memory_map && header.dtype == io::NpyDtype::float32 &&
        std::endian::native == std::endian::little && header.data_offset % matrix_alignment == 0) {
      const MatrixView mapped(
          std::span<const float>(reinterpret_cast<const float*>(data), rows * cols), rows, cols);
      bool in_place = true;
      for (std::size_t r = 0; r < rows && in_place; ++r) {
        const double n2 = checked_squared_norm(mapped.row(r), r, *table, origin, config);
        in_place = !config.normalize || is_unit(n2);
      }
      if (in_place) {
        table->map = std::move(file);
        table->vectors = mapped;
        return PrecomputedEmbedder(std::move(table), config);
      }
      // A row needs scaling and the map is read-only: copy (the rows are checked again there).
    }

    // A copy, a block of rows at a time, each block checked and normalised while it is in cache.
    AlignedVector<float>& owned = table->owned;
    owned.reserve(rows * cols);
    const std::size_t block = std::max<std::size_t>(1, std::size_t{16384} / cols);
    for (std::size_t first = 0; first < rows; first += block) {
      const std::size_t n = std::min(block, rows - first);
      const std::byte* from = data + first * cols * header.item_size();
      if (header.dtype == io::NpyDtype::float32) {
        io::detail::append_le_floats(from, n * cols, owned);
      } else {
        for (std::size_t i = 0; i < n * cols; ++i) {
          owned.push_back(io::float16_to_float32(io::detail::load_le<std::uint16_t>(from + 2 * i)));
        }
      }
      finish_rows(MutableMatrixView(owned, first + n, cols), first, *table, origin, config);
    }
    table->vectors = MatrixView(owned, rows, cols);
    return PrecomputedEmbedder(std::move(table), config);
  }

  /// The vectors of the .fvecs file at `fvecs_path`, named by the ids file at `ids_path`.
  static PrecomputedEmbedder from_fvecs(const std::string& fvecs_path,
                                        const std::string& ids_path) {
    return from_fvecs(fvecs_path, ids_path, Config{});
  }
  static PrecomputedEmbedder from_fvecs(const std::string& fvecs_path, const std::string& ids_path,
                                        const Config& config) {
    std::vector<std::string> ids = read_ids(ids_path);
    io::FvecsArray array = io::read_fvecs(fvecs_path);
    return from_owned(std::move(ids), std::move(array.values), array.rows, array.cols, config,
                      {.ids_source = ids_path, .values_source = fvecs_path, .lines = {}});
  }

  /// The vectors of the CSV file at `csv_path`: one row per vector, `id,v0,v1,...,v{dim-1}`,
  /// every row with the same number of fields. The first row is a header (and skipped) when its
  /// first field is empty (pandas' `df.to_csv()` with the ids as the index) or `id`, `item_id`
  /// or `user_id` (any case), or when one of its other fields is not a number. Values are
  /// decimal numbers within the range of float. Errors name the file, line and column.
  static PrecomputedEmbedder from_csv(const std::string& csv_path) {
    return from_csv(csv_path, Config{});
  }
  static PrecomputedEmbedder from_csv(const std::string& csv_path, const Config& config) {
    std::ifstream in = io::detail::open_input(csv_path);
    io::CsvReader csv(in, csv_path);
    std::vector<std::string> fields;
    if (!csv.next(fields)) throw Error(csv_path + ": no vectors (the file is empty)");
    std::vector<std::string> ids;
    AlignedVector<float> values;
    Origin origin{.ids_source = csv_path, .values_source = csv_path, .lines = {}};
    const std::size_t width = fields.size();
    if (width < 2) {
      io::throw_error(csv.record_location(),
                      "expected an id and at least one value (id,v0,v1,...), got one field");
    }
    bool row = !is_csv_header(fields);
    do {
      if (!row) {
        row = true;
        continue;
      }
      if (fields.size() != width) {
        io::throw_error(csv.record_location(), std::string("expected ") + std::to_string(width) +
                                                   " fields (as in the first row), got " +
                                                   std::to_string(fields.size()));
      }
      if (fields[0].empty()) {
        io::throw_error(csv.location(0, "id"), "expected an id, got an empty field");
      }
      for (std::size_t i = 1; i < width; ++i) {
        double v = 0.0;
        const char* problem = io::detail::to_double(fields[i], v, io::NonFinite::allow);
        // NaN and infinities are read, and reported by the row check with the id.
        if (problem == nullptr && std::isfinite(v) &&
            std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
          problem = "expected a number within the range of float";
        }
        if (problem != nullptr) {
          io::throw_error(csv.location(i), io::detail::problem_with(problem, fields[i]));
        }
        values.push_back(static_cast<float>(v));
      }
      ids.push_back(std::move(fields[0]));
      origin.lines.push_back(csv.line());
    } while (csv.next(fields));
    if (ids.empty()) throw Error(csv_path + ": no vectors (only a header row)");
    const std::size_t rows = ids.size();
    return from_owned(std::move(ids), std::move(values), rows, width - 1, config, origin);
  }

  /// An embedder read from a stream save() wrote (see load()).
  static PrecomputedEmbedder from_saved(std::istream& in) {
    PrecomputedEmbedder e(nullptr, Config{});
    e.load(in);
    return e;
  }

  /// The vectors `vectors` (copied), row i named `ids[i]`.
  PrecomputedEmbedder(std::vector<std::string> ids, MatrixView vectors)
      : PrecomputedEmbedder(std::move(ids), vectors, Config{}) {}
  PrecomputedEmbedder(std::vector<std::string> ids, MatrixView vectors, const Config& config)
      : PrecomputedEmbedder(from_owned(std::move(ids), copy_of(vectors), vectors.rows(),
                                       vectors.cols(), config, {})) {}

  PrecomputedEmbedder(const PrecomputedEmbedder&) = default;
  PrecomputedEmbedder& operator=(const PrecomputedEmbedder&) = default;
  // No move operations: a move is a copy (one shared_ptr increment), so a moved-from embedder
  // stays usable.

  /// Floats per vector.
  std::size_t dim() const noexcept { return table_->vectors.cols(); }
  /// Number of vectors (ids).
  std::size_t size() const noexcept { return table_->vectors.rows(); }

  /// Copies the vector of `id` to `out` (dim() floats). Throws Error naming the id when it is
  /// unknown, or when out has the wrong size.
  void embed(std::string_view id, std::span<float> out) const {
    marl_rec::detail::require(out.size() == dim(), [&] {
      return std::string("PrecomputedEmbedder::embed: out has ") + std::to_string(out.size()) +
             " floats, dim is " + std::to_string(dim());
    });
    const std::optional<std::size_t> row = find(id);
    marl_rec::detail::require(row.has_value(), [&] {
      return std::string("PrecomputedEmbedder::embed: unknown id ") +
             io::detail::quoted_for_message(id);
    });
    const std::span<const float> v = table_->vectors.row(*row);
    std::copy(v.begin(), v.end(), out.begin());
  }

  /// The row of `id` in matrix(), if known.
  std::optional<std::size_t> find(std::string_view id) const noexcept {
    return table_->index.find(table_->ids, id);
  }

  /// All vectors, row i for ids()[i] (unit length, 64-byte aligned).
  MatrixView matrix() const noexcept { return table_->vectors; }
  /// The ids, in row order.
  const std::vector<std::string>& ids() const noexcept { return table_->ids; }
  /// True when matrix() is the .npy file's data used in place from its memory map.
  bool memory_mapped() const noexcept { return !table_->map.empty(); }
  const Config& config() const noexcept { return config_; }

  /// Writes the Config, the ids and the vectors (type "precomputed_embedder", version 1).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "precomputed_embedder", 1);
    w.u64("normalize", config_.normalize ? 1 : 0);
    w.u64("memory_map", config_.memory_map ? 1 : 0);
    w.f64("norm_tolerance", static_cast<double>(config_.norm_tolerance));
    w.u64("dim", dim());
    io::write_strings(w, "ids", table_->ids);
    const MatrixView m = table_->vectors;
    std::vector<float> values;
    values.reserve(m.rows() * m.cols());
    for (std::size_t r = 0; r < m.rows(); ++r) values.insert(values.end(), m.row(r).begin(), m.row(r).end());
    w.floats("vectors", values);
    w.finish();
  }

  /// Replaces the Config and the table with what save() wrote: this embedder gets a new table
  /// (other copies keep theirs, see the class comment). Throws Error (embedder unchanged) on a
  /// truncated, corrupted or foreign stream, or contents the factories refuse: an empty or
  /// duplicate id, a non-finite value, a row not of unit length (within 1e-5 in the squared
  /// length with `normalize`, norm_tolerance without: rows are saved as served), or a dim above
  /// 2^24.
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'precomputed_embedder' model";
    io::ModelReader r(in, "precomputed_embedder", 1);
    Config c;
    c.normalize = r.u64("normalize", 0, 1) == 1;
    c.memory_map = r.u64("memory_map", 0, 1) == 1;
    const double tolerance = r.f64("norm_tolerance");
    c.norm_tolerance = static_cast<float>(tolerance);
    marl_rec::detail::require(static_cast<double>(c.norm_tolerance) == tolerance, [&] {
      return std::string(where) + ": norm_tolerance " + std::to_string(tolerance) + " is not a finite float";
    });
    // At most 2^24 floats per vector (no embedding is wider) keeps rows × dim from overflowing.
    const auto cols = static_cast<std::size_t>(r.u64("dim", 1, std::uint64_t{1} << 24));
    std::vector<std::string> ids = io::read_strings(r, "ids", where);
    const std::size_t rows = ids.size();
    marl_rec::detail::require(rows < std::numeric_limits<std::uint32_t>::max(), [&] {
      return std::string(where) + ": " + std::to_string(rows) + " ids (at most 2^32 - 2)";
    });
    const std::vector<float> values = r.floats("vectors", rows * cols);
    r.finish();
    for (std::size_t i = 0; i < rows; ++i) {
      marl_rec::detail::require(!ids[i].empty(), [&] {
        return std::string(where) + ": id " + std::to_string(i) + " is empty";
      });
      // The rows were saved as served: with normalisation on, already of unit length (a row
      // needing scaling is not what save() writes). The factory checks the rest.
      const double n2 = detail::precomputed_squared_norm(values.data() + i * cols, cols);
      marl_rec::detail::require(!c.normalize || !std::isfinite(n2) || n2 == 0.0 || is_unit(n2), [&] {
        return std::string(where) + ": the vector of id " + io::detail::quoted_for_message(ids[i]) +
               " has length " + std::to_string(std::sqrt(n2)) + ", not 1";
      });
    }
    PrecomputedEmbedder loaded = [&] {
      try {
        return from_owned(std::move(ids), AlignedVector<float>(values.begin(), values.end()), rows,
                          cols, c, {});
      } catch (const Error& e) {
        throw Error(std::string(where) + ": " + e.what());
      }
    }();
    table_ = std::move(loaded.table_);
    config_ = loaded.config_;
  }

 private:
  struct Table {
    std::vector<std::string> ids{};
    detail::PrecomputedIdIndex index{};
    AlignedVector<float> owned{};  // the vectors, unless mapped
    io::MappedFile map{};          // the .npy file, when its data is used in place
    MatrixView vectors{};          // into owned or map
  };

  /// Where the ids and the rows came from, for messages.
  struct Origin {
    std::string ids_source{};          // the ids file or CSV (empty: in memory)
    std::string values_source{};       // the vectors file (empty: in memory)
    std::vector<std::size_t> lines{};  // line of each row in a CSV (empty: row r is on line r + 1)

    /// "ids.txt:5", "vectors.csv:5" or "row 5" (1-based) where the id of row r is.
    std::string id_where(std::size_t r) const {
      if (ids_source.empty()) return std::string("row ") + std::to_string(r + 1);
      return ids_source + ":" + std::to_string(lines.empty() ? r + 1 : lines[r]);
    }
    /// "vectors.npy row 5", "vectors.csv:5" or "row 5" (1-based) where row r's values are.
    std::string row_where(std::size_t r) const {
      if (!lines.empty()) return id_where(r);
      if (values_source.empty()) return std::string("row ") + std::to_string(r + 1);
      return values_source + " row " + std::to_string(r + 1);
    }
  };

  /// The ids file at `path`: one id per line (see the class).
  static std::vector<std::string> read_ids(const std::string& path) {
    const io::MappedFile file(path, io::MapAccess::whole_file);
    std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    if (text.empty()) throw Error(path + ": no ids (the file is empty)");
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    std::vector<std::string> ids;
    ids.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
    // Plain ASCII without NUL bytes (the usual case) needs no per-line check: one fast pass.
    unsigned char bits = 0;
    bool nul = false;
    for (const char c : text) {
      bits |= static_cast<unsigned char>(c);
      nul |= c == '\0';
    }
    const bool check_lines = nul || (bits & 0x80) != 0;
    std::size_t line = 0;
    while (!text.empty()) {
      ++line;
      const std::size_t end = text.find('\n');
      std::string_view id = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      if (id.ends_with('\r')) id.remove_suffix(1);
      const auto where = [&] { return path + ":" + std::to_string(line) + ": "; };
      marl_rec::detail::require(!id.empty(),
                                [&] { return where() + "expected an id, got a blank line"; });
      if (check_lines) {
        marl_rec::detail::require(id.find('\0') == std::string_view::npos, [&] {
          return where() + "expected an id, got a NUL byte (is this a binary file?)";
        });
        marl_rec::detail::require(io::detail::is_valid_utf8(id), [&] {
          return where() + "expected an id in UTF-8, got " + io::detail::quoted_for_message(id);
        });
      }
      ids.emplace_back(id);
    }
    return ids;
  }

  /// Whether the first CSV row is a header (see from_csv).
  static bool is_csv_header(const std::vector<std::string>& fields) {
    const std::string first = io::detail::header_key(fields[0]);
    if (first.empty() || first == "id" || first == "item_id" || first == "user_id") return true;
    for (std::size_t i = 1; i < fields.size(); ++i) {
      double v = 0.0;
      if (io::detail::to_double(fields[i], v, io::NonFinite::allow) != nullptr) return true;
    }
    return false;
  }

  static AlignedVector<float> copy_of(MatrixView m) {
    AlignedVector<float> values;
    values.reserve(m.rows() * m.cols());
    for (std::size_t r = 0; r < m.rows(); ++r) {
      values.insert(values.end(), m.row(r).begin(), m.row(r).end());
    }
    return values;
  }

  /// Checks the config, and the shape against the ids (as many ids as rows, at least one row,
  /// dim ≥ 1), then indexes the ids, refusing duplicates.
  static void index_ids(std::size_t rows, std::size_t cols, Table& table, const Origin& origin,
                        const Config& config) {
    marl_rec::detail::require(
        config.norm_tolerance >= 0.0f && std::isfinite(config.norm_tolerance),
        "PrecomputedEmbedder: Config::norm_tolerance must be finite and >= 0");
    const std::string what = origin.values_source.empty() ? "the matrix" : origin.values_source;
    marl_rec::detail::require(table.ids.size() == rows, [&] {
      if (origin.ids_source.empty()) {
        return std::string("PrecomputedEmbedder: ") + std::to_string(table.ids.size()) +
               " ids but " + std::to_string(rows) + " rows";
      }
      return std::string("PrecomputedEmbedder: ") + origin.ids_source + " has " +
             std::to_string(table.ids.size()) + " ids but " + what + " has " +
             std::to_string(rows) + " rows";
    });
    marl_rec::detail::require(rows >= 1, [&] {
      return std::string("PrecomputedEmbedder: ") + what + " has no vectors (0 rows)";
    });
    marl_rec::detail::require(cols >= 1, [&] {
      return std::string("PrecomputedEmbedder: ") + what + " has vectors of dimension 0";
    });
    marl_rec::detail::require(rows < std::numeric_limits<std::uint32_t>::max(), [&] {
      return std::string("PrecomputedEmbedder: ") + what + " has more than 2^32 - 2 rows";
    });
    table.index.build(table.ids, [&](std::size_t first, std::size_t second) {
      throw Error(std::string("PrecomputedEmbedder: duplicate id ") +
                  io::detail::quoted_for_message(table.ids[second]) + " at " +
                  origin.id_where(first) + " and " + origin.id_where(second));
    });
  }

  /// The squared length of row r, checked: finite values, not all zeros, and unit length (within
  /// norm_tolerance) when normalisation is off. Throws Error naming the row and its id.
  static double checked_squared_norm(std::span<const float> row, std::size_t r, const Table& table,
                                     const Origin& origin, const Config& config) {
    const double n2 = detail::precomputed_squared_norm(row.data(), row.size());
    if (n2 > 0.0 && std::isfinite(n2) &&
        (config.normalize ||
         std::fabs(std::sqrt(n2) - 1.0) <= static_cast<double>(config.norm_tolerance))) {
      return n2;
    }
    const std::string where = std::string("PrecomputedEmbedder: ") + origin.row_where(r) + " (id " +
                              io::detail::quoted_for_message(table.ids[r]) + "): ";
    if (!std::isfinite(n2)) {
      std::size_t j = 0;
      while (j < row.size() && std::isfinite(row[j])) ++j;
      throw Error(where + "element [" + std::to_string(j) + "] is " +
                  (std::isnan(row[j]) ? "NaN" : "infinite") + " (every value must be finite)");
    }
    if (n2 == 0.0) {
      throw Error(where +
                  "the vector is all zeros: it has no direction, and an embedding must have unit "
                  "length");
    }
    throw Error(where + "length " + std::to_string(std::sqrt(n2)) + ", expected 1 within " +
                std::to_string(config.norm_tolerance) +
                " (normalize is off: the rows must already have unit length)");
  }

  /// Rows whose squared length is within this of 1 are already normalised: scaling them would
  /// change no score by more than a few parts in a million.
  static constexpr double unit_squared_tolerance = 1e-5;

  static bool is_unit(double n2) noexcept { return std::fabs(n2 - 1.0) <= unit_squared_tolerance; }

  /// Checks rows [first, m.rows()) of m, and with normalisation scales those not of unit length.
  static void finish_rows(MutableMatrixView m, std::size_t first, const Table& table,
                          const Origin& origin, const Config& config) {
    for (std::size_t r = first; r < m.rows(); ++r) {
      const std::span<float> row = m.row(r);
      const double n2 = checked_squared_norm(row, r, table, origin, config);
      if (!config.normalize || is_unit(n2)) continue;
      // Scaled in double and rounded once: each value within half an ulp of the exact one
      // (and vectors of subnormal length, whose inverse norm does not fit a float, work too).
      const double inverse = 1.0 / std::sqrt(n2);
      for (float& v : row) v = static_cast<float>(static_cast<double>(v) * inverse);
    }
  }

  /// The embedder over `values` (rows × cols, taken over): checks, normalises and indexes.
  static PrecomputedEmbedder from_owned(std::vector<std::string> ids, AlignedVector<float> values,
                                        std::size_t rows, std::size_t cols, const Config& config,
                                        const Origin& origin) {
    auto table = std::make_shared<Table>();
    table->ids = std::move(ids);
    index_ids(rows, cols, *table, origin, config);
    table->owned = std::move(values);
    const MutableMatrixView m(table->owned, rows, cols);
    finish_rows(m, 0, *table, origin, config);
    table->vectors = m;
    return PrecomputedEmbedder(std::move(table), config);
  }

  PrecomputedEmbedder(std::shared_ptr<const Table> table, const Config& config)
      : table_(std::move(table)), config_(config) {}

  std::shared_ptr<const Table> table_;
  Config config_{};
};

static_assert(Embedder<PrecomputedEmbedder>);

}  // namespace marl_rec
