// Test support: golden-file recipes of the catalog, the id map, the embedders, the objectives
// with state and the baseline recommenders (see golden_models.hpp for Recipe). The probes read
// what the stream stores, or what the loaded object computes from it: embeddings (which the
// hashing and word-vector embedders promise bit-identical everywhere), rankings, and the
// baselines' scores of every user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <istream>
#include <ostream>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/marl_rec.hpp"
#include "persist/golden_models.hpp"

namespace marl_rec::test::golden {

namespace catalog_recipes {

inline void put_text(std::vector<double>& out, std::string_view s) {
  out.push_back(static_cast<double>(s.size()));
  for (const char c : s) out.push_back(static_cast<double>(static_cast<unsigned char>(c)));
}

inline void put_floats(std::vector<double>& out, std::span<const float> values) {
  out.insert(out.end(), values.begin(), values.end());
}

inline void put_matrix(std::vector<double>& out, MatrixView m) {
  out.push_back(static_cast<double>(m.rows()));
  out.push_back(static_cast<double>(m.cols()));
  for (std::size_t r = 0; r < m.rows(); ++r) put_floats(out, m.row(r));
}

template <class E>
std::vector<double> probe_embedder(const E& e, std::initializer_list<std::string_view> texts) {
  std::vector<double> out{static_cast<double>(e.dim())};
  std::vector<float> v(e.dim());
  for (const std::string_view text : texts) {
    e.embed(text, v);
    put_floats(out, v);
  }
  return out;
}

inline Catalog make_catalog() {
  Rng rng(21);
  Catalog c(3);
  for (std::size_t i = 0; i < 7; ++i) {
    std::vector<std::string> tags;
    for (std::size_t t = 0; t < i % 3; ++t) tags.push_back(numbered_id("t", i + t));
    c.add(numbered_id("sku-", 100 + i), vec(rng, 3),
          ItemAttributes{.title = "Item " + std::to_string(i),
                         .price = 0.25f * static_cast<float>(i),
                         .category = i % 2 == 0 ? "shoes" : "bags",
                         .tags = tags,
                         .provider = numbered_id("p", i % 3),
                         .popularity = static_cast<float>(i * i)});
  }
  c.retire(2);
  c.retire(5);
  return c;
}

inline std::vector<double> probe_catalog(const Catalog& c) {
  std::vector<double> out{static_cast<double>(c.dim()), static_cast<double>(c.size()),
                          static_cast<double>(c.active_size())};
  put_matrix(out, c.embeddings());
  for (std::size_t i = 0; i < c.size(); ++i) {
    const ItemAttributes& a = c.attributes(i);
    put_text(out, c.id(i));
    out.push_back(static_cast<double>(c.index_of(c.id(i))));
    out.push_back(c.retired(i) ? 1.0 : 0.0);
    put_text(out, a.title);
    out.push_back(a.price);
    put_text(out, a.category);
    out.push_back(static_cast<double>(a.tags.size()));
    for (const std::string& t : a.tags) put_text(out, t);
    put_text(out, a.provider);
    out.push_back(a.popularity);
  }
  return out;
}

inline std::vector<double> probe_id_map(const IdMap& ids) {
  std::vector<double> out{static_cast<double>(ids.size())};
  for (const std::string& id : ids.ids()) {
    put_text(out, id);
    out.push_back(static_cast<double>(ids.at(id)));
  }
  return out;
}

inline HashingEmbedder make_hashing() {
  HashingEmbedder h({.dim = 12, .char_ngram_min = 2, .char_ngram_max = 4, .char_ngram_weight = 0.75f,
                     .seed = 3, .idf_buckets = 32});
  const std::vector<std::string_view> corpus = {"red running shoes", "blue leather bag",
                                                "running watch", "red bag"};
  h.fit_idf(corpus);
  return h;
}

inline std::vector<double> probe_hashing(const HashingEmbedder& h) {
  std::vector<double> out = probe_embedder(h, {"red shoes", "Blue running bag", "unseen café"});
  put_floats(out, h.idf());
  return out;
}

inline PrecomputedEmbedder make_precomputed() {
  const std::vector<float> rows = {3.0f, 4.0f, 0.0f, 0.0f, 0.0f, 2.0f, 1.0f, 1.0f, 1.0f, -1.0f, 0.5f, 0.25f};
  return PrecomputedEmbedder({"alpha", "beta", "gamma", "delta"}, MatrixView(rows, 4, 3));
}

inline std::vector<double> probe_precomputed(const PrecomputedEmbedder& e) {
  std::vector<double> out;
  put_matrix(out, e.matrix());
  for (const std::string& id : e.ids()) put_text(out, id);
  out.push_back(e.config().normalize ? 1.0 : 0.0);
  return out;
}

inline WordVectorEmbedder make_word_vectors() {
  const std::vector<std::string_view> words = {"the", "Red", "shoe", "shoes", "bag", "run"};
  Rng rng(8);
  const std::vector<float> vectors = vec(rng, words.size() * 3);
  WordVectorEmbedder e(words, 3, vectors, {.sif_a = 1e-2, .seed = 4});
  const std::vector<WordVectorEmbedder::WordCount> counts = {{"the", 30.0}, {"shoes", 5.0}, {"bag", 2.0}};
  e.set_word_counts(counts);
  const std::vector<std::string_view> corpus = {"the red shoes", "a bag", "run the shoe", "red bag"};
  e.fit_common_component(corpus);
  return e;
}

inline std::vector<double> probe_word_vectors(const WordVectorEmbedder& e) {
  std::vector<double> out = probe_embedder(e, {"the red shoes", "RED bag", "zebra run"});
  put_floats(out, e.common_component());
  for (std::size_t r = 0; r < e.vocabulary_size(); ++r) out.push_back(e.weight(r));
  return out;
}

inline std::vector<std::vector<std::size_t>> sessions(std::size_t n, std::size_t items, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<std::size_t>> out(n);
  for (auto& s : out) {
    const std::size_t length = 2 + static_cast<std::size_t>(rng.below(3));
    for (std::size_t i = 0; i < length; ++i) s.push_back(static_cast<std::size_t>(rng.below(items)));
  }
  return out;
}

inline Item2Vec make_item2vec() {
  Item2Vec m({.dim = 3, .window = 2, .negatives = 2, .epochs = 2, .min_count = 2, .seed = 6});
  m.fit(sessions(12, 8, 2), 8);
  m.fold_in(sessions(4, 10, 3), 1);
  return m;
}

inline std::vector<double> probe_item2vec(const Item2Vec& m) {
  std::vector<double> out{static_cast<double>(m.last_training().words),
                          static_cast<double>(m.last_training().pairs)};
  put_matrix(out, m.vectors());
  put_matrix(out, m.context_vectors());
  for (const std::uint64_t c : m.item_counts()) out.push_back(static_cast<double>(c));
  for (const std::string& id : m.items().ids()) put_text(out, id);
  out.push_back(static_cast<double>(m.config().min_count));
  return out;
}

template <class Scalar>
BasicSequenceEncoder<Scalar> make_encoder() {
  BasicSequenceEncoder<Scalar> e({.mode = SequenceEncoderConfig::Mode::attention,
                                  .max_history = 4,
                                  .query = SequenceEncoderConfig::Query::learned,
                                  .projections = true,
                                  .seed = 5});
  e.initialize(3);
  return e;
}

template <class Scalar>
std::vector<double> probe_encoder(const BasicSequenceEncoder<Scalar>& e) {
  const auto& c = e.config();
  std::vector<double> out{static_cast<double>(c.mode), static_cast<double>(c.max_history), c.half_life,
                          static_cast<double>(c.query), c.projections ? 1.0 : 0.0, c.learning_rate,
                          static_cast<double>(c.epochs), static_cast<double>(c.negatives), c.init_scale,
                          static_cast<double>(c.seed)};
  const auto& p = e.parameters();
  for (const auto* m : {&p.w_q, &p.w_k, &p.w_v}) {
    for (Eigen::Index i = 0; i < m->size(); ++i) out.push_back(static_cast<double>(m->data()[i]));
  }
  for (Eigen::Index i = 0; i < p.query.size(); ++i) out.push_back(static_cast<double>(p.query(i)));
  return out;
}

inline Catalog provider_catalog() {
  Catalog c(1);
  const std::vector<float> v{1.0f};
  const char* providers[] = {"A", "A", "B", "C", "", "B"};
  for (std::size_t i = 0; i < 6; ++i) c.add(numbered_id("i", i), v, {.provider = providers[i]});
  return c;
}

inline ExposureFairness make_fairness() {
  const Catalog c = provider_catalog();
  ExposureFairness f({.decay = 0.8, .target_share = {{"A", 1.0}, {"B", 2.0}, {"", 1.0}}});
  const std::vector<std::vector<std::size_t>> pages = {{0, 2, 3}, {1, 5}, {4, 0, 2, 3}};
  for (const auto& page : pages) f.record(page, c);
  return f;
}

inline std::vector<double> probe_fairness(ExposureFairness& f) {
  const Catalog c = provider_catalog();
  std::vector<double> out;
  for (const char* p : {"A", "B", "C", ""}) {
    out.push_back(f.exposure(p));
    out.push_back(f.exposure_share(p));
    out.push_back(f.target_share(p));
  }
  const std::vector<std::size_t> items = {0, 1, 2, 3, 4, 5};
  f.prepare({.items = items, .catalog = &c});
  for (std::size_t p = 0; p < items.size(); ++p) out.push_back(f.value(p));
  return out;
}

using GoldenRanking = MultiObjective<Weighted<Relevance, std::ratio<1, 2>>, Weighted<ExposureFairness, std::ratio<1, 2>>>;

inline std::vector<double> probe_ranking(GoldenRanking& m) {
  const Catalog c = provider_catalog();
  const std::vector<std::size_t> items = {5, 4, 3, 2, 1, 0};
  const std::vector<float> relevance = {0.9f, 0.1f, 0.5f, 0.7f, 0.3f, 0.6f};
  RankedList list;
  m.rank({.items = items, .relevance = relevance, .catalog = &c}, 4, list);
  std::vector<double> out(m.weights().begin(), m.weights().end());
  for (const std::size_t p : list.positions) out.push_back(static_cast<double>(p));
  out.insert(out.end(), list.scores.begin(), list.scores.end());
  return out;
}

inline Interactions sequences_data() {
  Interactions d;
  d.has_timestamp = true;
  Rng rng(31);
  for (std::size_t i = 0; i < 7; ++i) d.items.intern(numbered_id("i", i));
  for (std::size_t u = 0; u < 9; ++u) {
    const std::size_t user = d.users.intern(numbered_id("u", u));
    for (std::size_t k = 0; k < 2 + u % 4; ++k) {
      d.rows.push_back({.user = user, .item = static_cast<std::size_t>(rng.below(7)),
                        .timestamp = static_cast<double>(k), .source_row = d.rows.size()});
    }
  }
  return d;
}

inline std::vector<double> probe_item2vec_recommender(const Item2VecRecommender& m) {
  // Every user's scores (cold ones: the popularity; items without a vector: -inf), and the item
  // model itself.
  std::vector<double> out = probe_users(m, 10, 7);
  for (std::size_t u = 0; u < 10; ++u) out.push_back(m.is_warm(u) ? 1.0 : 0.0);
  const std::vector<double> item2vec = probe_item2vec(m.item2vec());
  out.insert(out.end(), item2vec.begin(), item2vec.end());
  out.push_back(m.config().scoring == Item2VecRecommender::Scoring::context ? 1.0 : 0.0);
  return out;
}

}  // namespace catalog_recipes

/// The recipes of catalog.hpp, id_map.hpp, embed/, objective/ and the baseline models.
inline void add_catalog_recipes(std::vector<Recipe>& r) {
  namespace cr = catalog_recipes;
  r.push_back({"catalog",
               [](std::ostream& out) {
                 const Catalog c = cr::make_catalog();
                 c.save(out);
                 return cr::probe_catalog(c);
               },
               [](std::istream& in) {
                 Catalog c(1);
                 c.load(in);
                 return cr::probe_catalog(c);
               }});
  r.push_back({"id_map",
               [](std::ostream& out) {
                 IdMap ids;
                 for (const char* id : {"u1", "007", "7", "", "naïve"}) ids.intern(id);
                 ids.save(out);
                 return cr::probe_id_map(ids);
               },
               [](std::istream& in) {
                 IdMap ids;
                 ids.load(in);
                 return cr::probe_id_map(ids);
               }});
  r.push_back({"hashing_embedder",
               [](std::ostream& out) {
                 const HashingEmbedder h = cr::make_hashing();
                 h.save(out);
                 return cr::probe_hashing(h);
               },
               [](std::istream& in) {
                 HashingEmbedder h;
                 h.load(in);
                 return cr::probe_hashing(h);
               }});
  r.push_back({"precomputed_embedder",
               [](std::ostream& out) {
                 const PrecomputedEmbedder e = cr::make_precomputed();
                 e.save(out);
                 return cr::probe_precomputed(e);
               },
               [](std::istream& in) { return cr::probe_precomputed(PrecomputedEmbedder::from_saved(in)); }});
  r.push_back({"word_vector_embedder",
               [](std::ostream& out) {
                 const WordVectorEmbedder e = cr::make_word_vectors();
                 e.save(out);
                 return cr::probe_word_vectors(e);
               },
               [](std::istream& in) { return cr::probe_word_vectors(WordVectorEmbedder::from_saved(in)); }});
  r.push_back({"item2vec",
               [](std::ostream& out) {
                 const Item2Vec m = cr::make_item2vec();
                 m.save(out);
                 return cr::probe_item2vec(m);
               },
               [](std::istream& in) {
                 Item2Vec m;
                 m.load(in);
                 return cr::probe_item2vec(m);
               }});
  r.push_back({"sequence_encoder",
               [](std::ostream& out) {
                 const SequenceEncoder e = cr::make_encoder<float>();
                 e.save(out);
                 return cr::probe_encoder(e);
               },
               [](std::istream& in) {
                 SequenceEncoder e;
                 e.load(in);
                 return cr::probe_encoder(e);
               }});
  r.push_back({"sequence_encoder_f64",
               [](std::ostream& out) {
                 const BasicSequenceEncoder<double> e = cr::make_encoder<double>();
                 e.save(out);
                 return cr::probe_encoder(e);
               },
               [](std::istream& in) {
                 BasicSequenceEncoder<double> e;
                 e.load(in);
                 return cr::probe_encoder(e);
               }});
  r.push_back({"exposure_fairness",
               [](std::ostream& out) {
                 ExposureFairness f = cr::make_fairness();
                 f.save(out);
                 return cr::probe_fairness(f);
               },
               [](std::istream& in) {
                 ExposureFairness f;
                 f.load(in);
                 return cr::probe_fairness(f);
               }});
  r.push_back({"multi_objective",
               [](std::ostream& out) {
                 cr::GoldenRanking m(Relevance{}, cr::make_fairness());
                 const std::vector<double> weights = {0.3, 0.7};
                 m.set_weights(weights);
                 m.save(out);
                 return cr::probe_ranking(m);
               },
               [](std::istream& in) {
                 cr::GoldenRanking m;
                 m.load(in);
                 return cr::probe_ranking(m);
               }});
  r.push_back({"most_popular",
               [](std::ostream& out) {
                 MostPopular m;
                 m.fit(cr::sequences_data());
                 m.save(out);
                 return probe_users(m, 3, 7);
               },
               [](std::istream& in) {
                 MostPopular m;
                 m.load(in);
                 return probe_users(m, 3, 7);
               }});
  r.push_back({"random_recommender",
               [](std::ostream& out) {
                 RandomRecommender m({.seed = 12});
                 m.fit(cr::sequences_data());
                 m.save(out);
                 return probe_users(m, 4, 7);
               },
               [](std::istream& in) {
                 RandomRecommender m;
                 m.load(in);
                 return probe_users(m, 4, 7);
               }});
  r.push_back({"item2vec_recommender",
               [](std::ostream& out) {
                 Item2VecRecommender m({.item2vec = {.dim = 3, .window = 2, .negatives = 2, .epochs = 2,
                                                     .min_count = 2, .seed = 9},
                                        .encoder = {.mode = SequenceEncoderConfig::Mode::recency},
                                        .scoring = Item2VecRecommender::Scoring::context});
                 m.fit(cr::sequences_data());
                 m.save(out);
                 return cr::probe_item2vec_recommender(m);
               },
               [](std::istream& in) {
                 Item2VecRecommender m;
                 m.load(in);
                 return cr::probe_item2vec_recommender(m);
               }});
  r.push_back({"session_q",
               [](std::ostream& out) {
                 SessionQ m({.alpha = 0.5f, .gamma = 0.25f, .epochs = 5});
                 m.fit(cr::sequences_data());
                 m.save(out);
                 return probe_users(m, 10, 7);
               },
               [](std::istream& in) {
                 SessionQ m;
                 m.load(in);
                 return probe_users(m, 10, 7);
               }});
}

}  // namespace marl_rec::test::golden
