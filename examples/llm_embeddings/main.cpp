// marl_rec_llm_embeddings — recommending with vectors from an LLM, the two ways an engine gets them:
//
// A. Exported offline. Item vectors computed by any embedding model and saved with numpy
//    (np.save of a float32 (n, d) array + an ids file, one id per line in the same order) are
//    loaded by PrecomputedEmbedder::from_npy. The program prints the table's shape, whether it is
//    used in place from a memory map, the 5 nearest neighbours (cosine) of a few items, and a
//    shopper's profile — the normalised mean of the vectors of the items they clicked — with its
//    top-5 recommendations (the clicked items excluded).
// B. Called online. Shoppers' queries are text, so their vectors must come from the same model at
//    serving time: the engine's own embedding call, wrapped in an Embedder (LlmEmbedder below) and
//    put behind CachedEmbedder. A warm-up embeds the most popular queries in one batch request;
//    then a stream of --queries queries, drawn (seeded) with Zipf popularity from 24 distinct
//    texts, is embedded and answered (top 3 items). The program prints the cache's hits, misses
//    and the calls it saved, and the stream's time with the cache and straight to the service.
//
// A STAND-IN FOR THE MODEL. No model can be downloaded where this project is built, so the
// "LLM" here is stand_in_model(): marl_rec's HashingEmbedder at d = 128 over an item's
// "title. description. category" (catalog_text). It matches words and word pieces, it does not
// understand them; a real model's vectors give other neighbours and are used the same way.
// The committed files examples/data/catalog_vectors.npy (300 x 128 float32, 154 KB) and
// catalog_vectors.ids were written by this program's --write-npy mode from
// examples/data/catalog.csv:
//
//     marl_rec_llm_embeddings --write-npy      # rewrites examples/data/catalog_vectors.{npy,ids}
//
// The same model answers part B's calls (fake_llm_embedding_call, which also counts the requests
// and sleeps --latency-ms per request to stand for a network round trip), so query and item
// vectors come from one model, as they must. Part B runs only when the loaded vectors are the
// stand-in's (the program checks the file against it, item by item); with your own model's file,
// replace fake_llm_embedding_call by a call to that model.
//
// Usage: marl_rec_llm_embeddings [--vectors FILE.npy] [--ids FILE] [--catalog FILE.csv]
//                                [--item ID]... [--clicked ID,ID,...] [--queries N]
//                                [--latency-ms MS] [--cache-capacity N] [--seed S]
//                                [--write-npy] [--help]
// Defaults: the files in examples/data, items p0001 p0151 p0271, clicked p0031,p0061,p0271,
// 1,000 queries, 1 ms per request, a cache of 1,000 vectors, seed 1. The default run takes about
// 1.2 s, nearly all of it the uncached stream's 1,000 simulated round trips.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../support/flags.hpp"
#include "marl_rec/concepts/embedder.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/embed/cached_embedder.hpp"
#include "marl_rec/embed/catalog_builder.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"
#include "marl_rec/embed/precomputed_embedder.hpp"
#include "marl_rec/io/items_csv.hpp"
#include "marl_rec/io/npy.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"

namespace {

namespace mr = marl_rec;

#ifdef MARL_REC_EXAMPLES_DATA_DIR
constexpr const char* data_dir = MARL_REC_EXAMPLES_DATA_DIR;
#else
constexpr const char* data_dir = "examples/data";
#endif

constexpr const char* usage =
    "usage: marl_rec_llm_embeddings [--vectors FILE.npy] [--ids FILE] [--catalog FILE.csv]\n"
    "                               [--item ID]... [--clicked ID,ID,...] [--queries N]\n"
    "                               [--latency-ms MS] [--cache-capacity N] [--seed S]\n"
    "                               [--write-npy] [--help]\n"
    "A. loads item vectors exported by an embedding model (.npy + ids) and recommends with them;\n"
    "B. embeds shoppers' queries through a (stand-in) LLM call behind CachedEmbedder.\n"
    "  --vectors, --ids     the exported vectors (default: examples/data/catalog_vectors.npy, .ids)\n"
    "  --catalog FILE       items CSV for titles (default: examples/data/catalog.csv)\n"
    "  --item ID            an item whose neighbours to show (repeatable; default p0001 p0151 p0271)\n"
    "  --clicked IDS        the shopper's clicked items (default p0031,p0061,p0271)\n"
    "  --queries N          queries in part B's stream (default 1000)\n"
    "  --latency-ms MS      simulated time of one request to the model (default 1)\n"
    "  --cache-capacity N   vectors the cache keeps (default 1000)\n"
    "  --seed S             seed of the query stream (default 1)\n"
    "  --write-npy          write the stand-in model's vectors of --catalog to --vectors and --ids,\n"
    "                       then stop (how the committed files were made)\n";

struct Options {
  std::string vectors = std::string(data_dir) + "/catalog_vectors.npy";
  std::string ids = std::string(data_dir) + "/catalog_vectors.ids";
  std::string catalog = std::string(data_dir) + "/catalog.csv";
  std::vector<std::string> items;
  std::vector<std::string> clicked = {"p0031", "p0061", "p0271"};
  std::size_t queries = 1000;
  double latency_ms = 1.0;
  std::size_t cache_capacity = 1000;
  std::uint64_t seed = 1;
  bool write_npy = false;
  bool help = false;
};

Options parse(int argc, char** argv) {
  Options o;
  mr::examples::Flags flags(argc, argv);
  while (flags.next()) {
    if (flags.is("--help") || flags.is("-h")) {
      o.help = true;
    } else if (flags.is("--vectors")) {
      o.vectors = flags.text();
    } else if (flags.is("--ids")) {
      o.ids = flags.text();
    } else if (flags.is("--catalog")) {
      o.catalog = flags.text();
    } else if (flags.is("--item")) {
      o.items.push_back(flags.text());
    } else if (flags.is("--clicked")) {
      o.clicked = flags.list();
    } else if (flags.is("--queries")) {
      o.queries = flags.whole();
    } else if (flags.is("--latency-ms")) {
      o.latency_ms = flags.number(0.0, 1000.0);
    } else if (flags.is("--cache-capacity")) {
      o.cache_capacity = flags.whole();
    } else if (flags.is("--seed")) {
      o.seed = flags.whole();
    } else if (flags.is("--write-npy")) {
      o.write_npy = true;
    } else {
      flags.unknown();
    }
  }
  if (o.items.empty()) o.items = {"p0001", "p0151", "p0271"};
  return o;
}

// ---- the stand-in model --------------------------------------------------------------------------

// STAND-IN for an LLM embedding model (see the header comment): the hashing embedder at d = 128.
// Deterministic, with the same bits on every platform, so the committed .npy can be checked.
const mr::HashingEmbedder& stand_in_model() {
  static const mr::HashingEmbedder model{{.dim = 128}};
  return model;
}

// --write-npy: the stand-in's vectors of every catalog item, saved as numpy would save them.
void write_stand_in_vectors(const Options& o) {
  const std::vector<mr::io::ItemRecord> records = mr::io::read_items_csv(o.catalog);
  const std::size_t dim = stand_in_model().dim();
  mr::AlignedVector<float> vectors(records.size() * dim);
  const mr::MutableMatrixView matrix(vectors, records.size(), dim);
  std::string ids;
  for (std::size_t i = 0; i < records.size(); ++i) {
    stand_in_model().embed(mr::catalog_text(records[i]), matrix.row(i));
    ids += records[i].id + "\n";
  }
  mr::io::write_npy(o.vectors, matrix);
  std::FILE* out = std::fopen(o.ids.c_str(), "wb");
  if (out == nullptr) throw mr::Error(o.ids + ": cannot open for writing");
  const bool written = std::fwrite(ids.data(), 1, ids.size(), out) == ids.size();
  if (std::fclose(out) != 0 || !written) throw mr::Error(o.ids + ": write failed");
  std::printf("wrote %s (%zu x %zu float32) and %s (%zu ids) from %s\n", o.vectors.c_str(), records.size(),
              dim, o.ids.c_str(), records.size(), o.catalog.c_str());
}

// ---- part B: the engine's own LLM call -----------------------------------------------------------

// STAND-IN for the engine's LLM embedding endpoint. A real one sends the texts over the network
// (one request for many texts) and returns the model's vectors; this one counts the requests and
// texts, sleeps `latency` per request, and returns the stand-in model's vectors. Copies share the
// counters (a client handle is cheap to copy; calls may come from many threads, hence atomics).
class FakeLlmService {
 public:
  explicit FakeLlmService(std::chrono::microseconds latency) : latency_(latency) {}

  std::size_t dim() const { return stand_in_model().dim(); }

  // One request: the vectors of `texts`, row after row (texts.size() x dim() floats).
  std::vector<float> fake_llm_embedding_call(std::span<const std::string_view> texts) const {
    ++counters_->requests;
    counters_->texts += texts.size();
    std::this_thread::sleep_for(latency_);
    std::vector<float> out(texts.size() * dim());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      stand_in_model().embed(texts[i], std::span<float>(out).subspan(i * dim(), dim()));
    }
    return out;
  }

  std::size_t requests() const { return counters_->requests; }
  std::size_t texts_sent() const { return counters_->texts; }

 private:
  struct Counters {
    std::atomic<std::size_t> requests{0};
    std::atomic<std::size_t> texts{0};
  };
  std::chrono::microseconds latency_;
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

// What an engine writes around its LLM call: an Embedder (dim, embed) with a batch form, whose
// output meets the contract (unit length; an Error naming the text when it cannot embed it).
class LlmEmbedder {
 public:
  explicit LlmEmbedder(FakeLlmService service) : service_(std::move(service)) {}

  std::size_t dim() const { return service_.dim(); }

  void embed(std::string_view text, std::span<float> out) const {
    embed_batch(std::span<const std::string_view>(&text, 1), mr::MutableMatrixView(out, 1, out.size()));
  }

  // One request for all the texts (CachedEmbedder sends a batch's misses this way).
  void embed_batch(std::span<const std::string_view> texts, mr::MutableMatrixView out) const {
    if (out.rows() != texts.size() || out.cols() != dim()) {
      throw mr::Error("LlmEmbedder: out must be texts.size() x dim()");
    }
    const std::vector<float> vectors = service_.fake_llm_embedding_call(texts);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::span<float> row = out.row(i);
      std::copy_n(vectors.begin() + static_cast<std::ptrdiff_t>(i * dim()), dim(), row.begin());
      // Models do not all return unit vectors; the Embedder contract wants them.
      if (!mr::simd::l2_normalize(row)) {
        throw mr::Error("LlmEmbedder: the model returned a zero vector for '" + std::string(texts[i]) + "'");
      }
    }
  }

  const FakeLlmService& service() const { return service_; }

 private:
  FakeLlmService service_;
};

static_assert(mr::Embedder<LlmEmbedder>);
static_assert(mr::BatchEmbedder<LlmEmbedder>);
static_assert(mr::Embedder<mr::CachedEmbedder<LlmEmbedder>>);

// What shoppers type, most popular first (a query's popularity is ∝ 1 / its rank: Zipf).
constexpr const char* shopper_queries[] = {
    "waterproof boots for a multi-day trek in the alps",
    "noise-cancelling headphones for long flights",
    "a cast iron skillet for searing steaks",
    "a light tent for two people",
    "espresso machine with a milk frother",
    "gps watch for triathlon training",
    "trail running shoes for muddy forest trails",
    "laptop backpack for daily commuting",
    "rain jacket with taped seams for cycling to work",
    "a strategy board game for family night",
    "non-slip yoga mat",
    "a novel for a long train journey",
    "burr grinder for pour-over coffee",
    "daypack with a rain cover",
    "sport earbuds that survive sweat",
    "dutch oven for slow-cooked stews",
    "sleeping bag for cold nights",
    "cushioned daily trainer for easy runs",
    "headlamp for camping",
    "packable anorak for festival weekends",
    "smartwatch with contactless payments",
    "meditation cushion",
    "insulated parka for winter",
    "stability shoe for marathon training",
};

// ---- helpers ---------------------------------------------------------------------------------------

// Titles and categories by id, from the items CSV (an exported file may hold other ids: then the
// id is shown alone).
class Titles {
 public:
  explicit Titles(const std::string& catalog) : records_(mr::io::read_items_csv(catalog)) {
    for (std::size_t i = 0; i < records_.size(); ++i) row_of_.emplace(records_[i].id, i);
  }
  const mr::io::ItemRecord* find(std::string_view id) const {
    const auto it = row_of_.find(std::string(id));
    return it == row_of_.end() ? nullptr : &records_[it->second];
  }
  std::string describe(std::string_view id) const {
    const mr::io::ItemRecord* r = find(id);
    return r == nullptr ? std::string(id) : std::string(id) + "  " + r->title + "  (" + r->category + ")";
  }

 private:
  std::vector<mr::io::ItemRecord> records_;
  std::unordered_map<std::string, std::size_t> row_of_;
};

std::size_t row_of(const mr::PrecomputedEmbedder& items, const std::string& id) {
  const std::optional<std::size_t> row = items.find(id);
  if (!row) throw mr::Error("item '" + id + "' is not in the vectors' ids file");
  return *row;
}

void print_top(const mr::PrecomputedEmbedder& items, const Titles& titles,
               std::span<const mr::ScoredItem> top) {
  for (const mr::ScoredItem& s : top) {
    std::printf("    %.3f  %s\n", s.score, titles.describe(items.ids()[s.index]).c_str());
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- part A ------------------------------------------------------------------------------------------

void exported_vectors(const Options& o, const mr::PrecomputedEmbedder& items, const Titles& titles) {
  const mr::MatrixView all = items.matrix();  // row r is the vector of items.ids()[r], unit length
  for (const std::string& id : o.items) row_of(items, id);  // unknown ids: an error before any output
  for (const std::string& id : o.clicked) row_of(items, id);
  std::printf("A. %zu item vectors of dimension %zu from %s (%s)\n\n", items.size(), items.dim(),
              o.vectors.c_str(), items.memory_mapped() ? "used in place from a memory map" : "copied");

  std::vector<mr::ScoredItem> top(5);
  for (const std::string& id : o.items) {
    const std::size_t row = row_of(items, id);
    mr::ItemBitset self;  // an item is not its own neighbour
    self.insert(row);
    const std::size_t n = mr::simd::score_top_k(all.row(row), all, 5, top, self.view());
    std::printf("  nearest to %s\n", titles.describe(id).c_str());
    print_top(items, titles, std::span<const mr::ScoredItem>(top).first(n));
  }

  // A shopper's profile: the mean of the vectors of what they clicked, scaled to unit length (so
  // scores stay cosines). embed(id) is the Embedder interface: the "text" is the id.
  std::vector<float> profile(items.dim(), 0.0f), v(items.dim());
  mr::ItemBitset seen;
  std::printf("\n  a shopper who clicked\n");
  for (const std::string& id : o.clicked) {
    items.embed(id, v);
    for (std::size_t j = 0; j < v.size(); ++j) profile[j] += v[j] / static_cast<float>(o.clicked.size());
    seen.insert(row_of(items, id));
    std::printf("    %s\n", titles.describe(id).c_str());
  }
  if (!mr::simd::l2_normalize(profile)) throw mr::Error("the clicked items' vectors cancel out");
  const std::size_t n = mr::simd::score_top_k(profile, all, 5, top, seen.view());
  std::printf("  is recommended (top 5, clicked items excluded)\n");
  print_top(items, titles, std::span<const mr::ScoredItem>(top).first(n));
}

// ---- part B ------------------------------------------------------------------------------------------

// The largest |difference| between the loaded vectors and the stand-in model's for the same items
// (infinite when the dimensions differ or an id is not in the catalog).
float difference_from_stand_in(const mr::PrecomputedEmbedder& items, const Titles& titles) {
  if (items.dim() != stand_in_model().dim()) return std::numeric_limits<float>::infinity();
  std::vector<float> v(items.dim());
  float worst = 0.0f;
  for (std::size_t r = 0; r < items.size(); ++r) {
    const mr::io::ItemRecord* record = titles.find(items.ids()[r]);
    if (record == nullptr) return std::numeric_limits<float>::infinity();
    stand_in_model().embed(mr::catalog_text(*record), v);
    const std::span<const float> loaded = items.matrix().row(r);
    for (std::size_t j = 0; j < v.size(); ++j) worst = std::max(worst, std::fabs(v[j] - loaded[j]));
  }
  return worst;
}

void online_queries(const Options& o, const mr::PrecomputedEmbedder& items, const Titles& titles) {
  const auto latency = std::chrono::microseconds(static_cast<std::int64_t>(o.latency_ms * 1000.0));
  const FakeLlmService service(latency);
  mr::CachedEmbedder<LlmEmbedder> cached(LlmEmbedder(service), {.capacity = o.cache_capacity});
  const std::size_t distinct = std::size(shopper_queries);
  std::printf(
      "\nB. shoppers' queries embedded online by the (stand-in) LLM, behind CachedEmbedder "
      "(capacity %zu, %.1f ms per request);\n   the item vectors above are that model's (checked item by "
      "item)\n\n",
      o.cache_capacity, o.latency_ms);

  // Warm-up: yesterday's 8 most popular queries in one batch (one request).
  const std::vector<std::string_view> warm(shopper_queries, shopper_queries + 8);
  mr::AlignedVector<float> warm_vectors(warm.size() * cached.dim());
  cached.embed_batch(warm, mr::MutableMatrixView(warm_vectors, warm.size(), cached.dim()));
  std::printf("  warm-up: the %zu most popular queries in %zu batch request\n", warm.size(),
              service.requests());

  // The stream: Zipf popularity over the distinct queries, seeded.
  std::vector<double> cumulative(distinct);
  double total = 0.0;
  for (std::size_t r = 0; r < distinct; ++r) cumulative[r] = total += 1.0 / static_cast<double>(r + 1);
  mr::Rng rng(o.seed);
  std::vector<std::size_t> stream(o.queries);
  for (std::size_t& q : stream) {
    const double u = rng.uniform() * total;
    q = std::min<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin(),
                              distinct - 1);
  }

  std::vector<float> query(cached.dim());
  std::vector<mr::ScoredItem> top(3);
  std::vector<bool> shown(distinct, false);
  std::size_t printed = 0;
  const std::size_t requests_before = service.requests(), texts_before = service.texts_sent();
  std::printf("  the first answers of the stream (top 3):\n");
  const auto start = std::chrono::steady_clock::now();
  for (const std::size_t q : stream) {
    cached.embed(shopper_queries[q], query);
    const std::size_t n = mr::simd::score_top_k(query, items.matrix(), 3, top);
    if (printed < 3 && !shown[q]) {  // the answers to the first few distinct queries
      shown[q] = true;
      ++printed;
      std::printf("  \"%s\"\n", shopper_queries[q]);
      print_top(items, titles, std::span<const mr::ScoredItem>(top).first(n));
    }
  }
  const double cached_seconds = seconds_since(start);
  const std::size_t requests = service.requests() - requests_before;
  const std::size_t texts = service.texts_sent() - texts_before;
  const mr::CacheStats stats = cached.stats();

  // The same stream straight to the service, for comparison.
  const LlmEmbedder uncached(service);
  const std::size_t direct_before = service.requests();
  const auto direct_start = std::chrono::steady_clock::now();
  for (const std::size_t q : stream) uncached.embed(shopper_queries[q], query);
  const double direct_seconds = seconds_since(direct_start);
  const std::size_t direct_requests = service.requests() - direct_before;

  std::printf("\n  %zu queries (%zu distinct texts, Zipf popularity, seed %llu)\n", stream.size(), distinct,
              static_cast<unsigned long long>(o.seed));
  std::printf("  cache, warm-up included: %llu hits, %llu misses, %llu evictions\n",
              static_cast<unsigned long long>(stats.hits), static_cast<unsigned long long>(stats.misses),
              static_cast<unsigned long long>(stats.evictions));
  std::printf("  stream with the cache:     %5zu requests to the model (%zu texts), %.3f s\n", requests,
              texts, cached_seconds);
  std::printf("  stream without the cache:  %5zu requests to the model, %.3f s\n", direct_requests,
              direct_seconds);
  std::printf("  calls saved by the cache: %zu of %zu\n", direct_requests - requests, direct_requests);
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  if (o.help) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (o.write_npy) {
    write_stand_in_vectors(o);
    return 0;
  }
  const mr::PrecomputedEmbedder items = mr::PrecomputedEmbedder::from_npy(o.vectors, o.ids);
  const Titles titles(o.catalog);
  exported_vectors(o, items, titles);

  // Part B scores query vectors from the stand-in against the loaded item vectors: only
  // meaningful when those are the stand-in's too.
  const float difference = difference_from_stand_in(items, titles);
  if (!(difference <= 1e-6f)) {
    std::printf(
        "\nB. skipped: the vectors in %s are not the stand-in model's, so its query vectors would "
        "not be comparable with them. With your own model's vectors, replace "
        "fake_llm_embedding_call by a call to that model.\n",
        o.vectors.c_str());
    return 0;
  }
  online_queries(o, items, titles);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_llm_embeddings: %s\n", e.what());
  return 1;
}
