// A user-defined embedder that stands for a call to the engine's own LLM embedding service,
// checked by the Embedder concept, wrapped in marl_rec's CachedEmbedder, and used to build the
// storefront catalog and answer shoppers' queries.
//
// marl_rec never depends on an LLM: the engine supplies the call. Here the "service" is a
// stand-in (it counts requests and derives vectors with the hashing embedder) so that the example
// runs anywhere; replace `call_service` with your HTTP / gRPC / in-process model call.
//
//   marl_rec_llm_embedder [--catalog FILE]
#include <marl_rec/marl_rec.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/embed/cached_embedder.hpp"
#include "marl_rec/embed/catalog_builder.hpp"
#include "marl_rec/embed/hashing_embedder.hpp"

namespace mr = marl_rec;

// What an engine writes: dim(), and embed() that fills a unit vector or throws mr::Error.
class MyLlmEmbedder {
 public:
  std::size_t dim() const { return 384; }

  void embed(std::string_view text, std::span<float> out) const {
    mr::detail::require(out.size() == dim(), "MyLlmEmbedder: out must have dim() floats");
    call_service(text, out);  // one network round trip in a real engine
  }

  // The service's batch endpoint: one round trip for many texts.
  void embed_batch(std::span<const std::string_view> texts, mr::MutableMatrixView out) const {
    ++counters_->batch_requests;
    for (std::size_t i = 0; i < texts.size(); ++i) call_service(texts[i], out.row(i));
  }

  std::size_t texts_sent() const { return counters_->texts_sent; }
  std::size_t batch_requests() const { return counters_->batch_requests; }

 private:
  void call_service(std::string_view text, std::span<float> out) const {
    ++counters_->texts_sent;
    stand_in_.embed(text, out);  // a real service returns its model's (normalised) vector
  }

  // Request counters, shared by copies (a client handle is cheap to copy; calls may come from
  // many threads, hence atomics).
  struct Counters {
    std::atomic<std::size_t> texts_sent{0};
    std::atomic<std::size_t> batch_requests{0};
  };
  mr::HashingEmbedder stand_in_{{.dim = 384}};
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

static_assert(mr::Embedder<MyLlmEmbedder>);
static_assert(mr::BatchEmbedder<MyLlmEmbedder>);
static_assert(mr::Embedder<mr::CachedEmbedder<MyLlmEmbedder>>);

int main(int argc, char** argv) try {
#ifdef MARL_REC_EXAMPLES_DATA_DIR
  std::string path = MARL_REC_EXAMPLES_DATA_DIR "/catalog.csv";
#else
  std::string path = "examples/data/catalog.csv";
#endif
  if (argc == 3 && std::string_view(argv[1]) == "--catalog") path = argv[2];

  mr::CachedEmbedder<MyLlmEmbedder> embedder(MyLlmEmbedder{}, {.capacity = 100'000, .norm_tolerance = 1e-3f});
  const auto records = mr::io::read_items_csv(path);
  const mr::Catalog catalog = mr::build_catalog(records, embedder);  // one batch request
  std::printf("catalog: %zu items embedded with %zu batch request(s)\n", catalog.size(),
              embedder.inner().batch_requests());

  std::vector<float> query(embedder.dim());
  std::vector<mr::ScoredItem> best(3);
  for (int round = 0; round < 2; ++round) {  // the second round is served from the cache
    for (const char* wish : {"a cast iron pan for searing steaks", "a tent for winter camping"}) {
      embedder.embed(wish, query);
      const std::size_t n = mr::simd::score_top_k(query, catalog.embeddings(), 3, best);
      if (round == 0) {
        std::printf("\"%s\"\n", wish);
        for (std::size_t j = 0; j < n; ++j) {
          std::printf("  %.3f  %s\n", best[j].score, catalog.attributes(best[j].index).title.c_str());
        }
      }
    }
  }
  const mr::CacheStats stats = embedder.stats();
  std::printf("service calls: %zu texts; cache: %llu hits, %llu misses\n", embedder.inner().texts_sent(),
              static_cast<unsigned long long>(stats.hits), static_cast<unsigned long long>(stats.misses));
  // Two distinct queries asked twice: the second time both come from the cache.
  return stats.hits >= 2 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_llm_embedder: %s\n", e.what());
  return 2;
}
