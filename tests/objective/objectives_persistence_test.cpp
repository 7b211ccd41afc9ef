// Save/load of the objectives with state: ExposureFairness (the remembered exposure) and
// MultiObjective (the runtime weights and its persistent objectives).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ratio>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/objective/diversity.hpp"
#include "marl_rec/objective/exposure_fairness.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "marl_rec/objective/revenue.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"

namespace {

namespace mr = marl_rec;
using mr::test::check_damage_rejected;
using mr::test::load_error;
using mr::test::saved;

static_assert(mr::detail::PersistentObjective<mr::ExposureFairness>);
static_assert(!mr::detail::PersistentObjective<mr::Relevance>);

// 12 items of 4 providers ("" among them), 2-d vectors.
mr::Catalog catalog() {
  mr::Rng rng(4);
  mr::Catalog c(2);
  const std::array<const char*, 4> providers = {"A", "B", "", "C"};
  for (std::size_t i = 0; i < 12; ++i) {
    const std::vector<float> v = {static_cast<float>(rng.normal()), static_cast<float>(rng.normal())};
    c.add(mr::numbered_id("i", i), v, {.price = static_cast<float>(i), .provider = providers[i % 4]});
  }
  return c;
}

struct Request {
  std::vector<std::size_t> items;
  std::vector<float> relevance;
};

Request request(mr::Rng& rng, std::size_t catalog_size) {
  Request r;
  for (std::size_t k = 0; k < 6; ++k) {
    r.items.push_back(static_cast<std::size_t>(rng.below(catalog_size)));
    r.relevance.push_back(static_cast<float>(rng.uniform()));
  }
  return r;
}

// One page: rank 4 of 6 candidates, then record the page shown. Returns the list's scores.
template <class Ranking>
std::vector<double> serve(Ranking& ranking, const mr::Catalog& c, const Request& r) {
  mr::RankedList list;
  ranking.rank({.items = r.items, .relevance = r.relevance, .catalog = &c}, 4, list);
  std::vector<std::size_t> shown;
  for (const std::size_t p : list.positions) shown.push_back(r.items[p]);
  ranking.record(shown, c);
  std::vector<double> out = list.scores;
  out.insert(out.end(), list.explanation.contributions.begin(), list.explanation.contributions.end());
  return out;
}

// ExposureFairness alone: value of every candidate after preparing, then the page recorded.
std::vector<double> serve_fairness(mr::ExposureFairness& f, const mr::Catalog& c, const Request& r) {
  f.prepare({.items = r.items, .relevance = r.relevance, .catalog = &c});
  std::vector<double> out;
  for (std::size_t p = 0; p < r.items.size(); ++p) out.push_back(f.value(p));
  f.select(0);
  out.push_back(f.value(1));
  f.record(std::span<const std::size_t>(r.items).first(3), c);
  return out;
}

using Ranking = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<6, 10>>,
                                   mr::Weighted<mr::ExposureFairness, std::ratio<3, 10>>,
                                   mr::Weighted<mr::Diversity, std::ratio<1, 10>>>;

}  // namespace

TEST_CASE("ExposureFairness: save and load mid-run, then many pages, as if never stopped") {
  const mr::Catalog c = catalog();
  mr::ExposureFairness never_saved({.decay = 0.9, .target_share = {{"A", 2.0}, {"B", 1.0}, {"", 1.0}}});
  mr::Rng rng(7);
  for (int page = 0; page < 30; ++page) serve_fairness(never_saved, c, request(rng, c.size()));
  const std::string bytes = saved(never_saved);

  mr::ExposureFairness loaded({.decay = 1.0});  // another config
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.config().decay == 0.9);
  CHECK(loaded.config().target_share.size() == 3);
  CHECK(loaded.providers() == never_saved.providers());
  for (const char* p : {"A", "B", "", "C", "nobody"}) {
    CAPTURE(p);
    CHECK(loaded.exposure(p) == never_saved.exposure(p));
    CHECK(loaded.exposure_share(p) == never_saved.exposure_share(p));
    CHECK(loaded.target_share(p) == never_saved.target_share(p));
  }
  // Decay far enough that the lazy scale renormalises on both sides.
  for (int page = 0; page < 2500; ++page) {
    const Request r = request(rng, c.size());
    const std::vector<double> a = serve_fairness(loaded, c, r);
    const std::vector<double> b = serve_fairness(never_saved, c, r);
    if (a != b) {
      CHECK_MESSAGE(a == b, "page ", page);
      break;
    }
  }
  CHECK(saved(loaded) == saved(never_saved));

  SUBCASE("uniform targets: the providers known are kept, in their order") {
    mr::ExposureFairness uniform;
    serve_fairness(uniform, c, request(rng, c.size()));
    mr::ExposureFairness target({.decay = 0.5, .target_share = {{"Z", 1.0}}});
    CHECK(load_error(target, saved(uniform)) == "no error");
    CHECK(target.config().target_share.empty());
    CHECK(target.target_share("C") == 0.25);
    const Request r = request(rng, c.size());
    CHECK(serve_fairness(target, c, r) == serve_fairness(uniform, c, r));
    CHECK(saved(target) == saved(uniform));
  }
}

TEST_CASE("ExposureFairness: damaged, foreign and forged streams are Errors that change nothing") {
  const mr::Catalog c = catalog();
  mr::ExposureFairness source({.decay = 0.99, .target_share = {{"A", 1.0}}});
  mr::Rng rng(3);
  serve_fairness(source, c, request(rng, c.size()));
  mr::ExposureFairness target;
  serve_fairness(target, c, request(rng, c.size()));
  const std::string before = saved(target);
  check_damage_rejected(target, saved(source), "exposure_fairness");
  CHECK(load_error(target, saved(mr::IdMap())) ==
        "loading a 'exposure_fairness' model: the stream holds a 'id_map' model");
  struct Fields {
    double decay = 1.0;
    std::vector<std::string> targets{};
    std::vector<double> shares{};
    std::vector<std::string> providers{"A", "B"};
    std::vector<double> exposure{1.0, 0.5};
    double total = 1.5, scale = 1.0;
  };
  const auto forge = [](const Fields& f) {
    std::ostringstream out;
    mr::io::ModelWriter w(out, "exposure_fairness", 1);
    w.f64("decay", f.decay);
    mr::io::write_strings(w, "target_providers", f.targets);
    w.doubles("target_shares", f.shares);
    mr::io::write_strings(w, "providers", f.providers);
    w.doubles("exposure", f.exposure);
    w.f64("total", f.total);
    w.f64("scale", f.scale);
    w.finish();
    return out.str();
  };
  mr::ExposureFairness probe;
  CHECK(load_error(probe, forge({})) == "no error");
  CHECK(probe.exposure("B") == 0.5);
  const std::string where = "loading a 'exposure_fairness' model: ";
  CHECK(load_error(target, forge({.decay = 0.0})) == where + "ExposureFairness: decay must be in (0, 1], got 0.000000");
  CHECK(load_error(target, forge({.targets = {"A", "A"}, .shares = {1.0, 1.0}})) ==
        where + "target provider 1 is given twice");
  CHECK(load_error(target, forge({.targets = {"A"}, .shares = {-1.0}})) ==
        where + "ExposureFairness: the target share of 'A' must be finite and >= 0, got -1.000000");
  CHECK(load_error(target, forge({.providers = {"A", "A"}})) == where + "provider 'A' is given twice");
  CHECK(load_error(target, forge({.exposure = {1.0, -0.5}})) == where + "the exposure of provider 'B' is -0.500000");
  CHECK(load_error(target, forge({.total = std::numeric_limits<double>::infinity()})) ==
        where + "the total exposure is inf");
  CHECK(load_error(target, forge({.scale = 0.0})) == where + "the scale 0.000000 is not in (0, 1]");
  CHECK(load_error(target, forge({.exposure = {1.0}})) == where + "field 'exposure' has 1 values, expected 2");
  CHECK(saved(target) == before);
}

TEST_CASE("MultiObjective: weights and persistent objectives round-trip, and ranking goes on alike") {
  const mr::Catalog c = catalog();
  Ranking never_saved;
  const std::vector<double> weights = {0.5, 0.4, 0.1};
  never_saved.set_weights(weights);
  mr::Rng rng(9);
  for (int page = 0; page < 20; ++page) serve(never_saved, c, request(rng, c.size()));
  const std::string bytes = saved(never_saved);

  Ranking loaded;  // compile-time weights, nothing recorded
  CHECK(load_error(loaded, bytes) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.weights() == never_saved.weights());
  CHECK(loaded.get<1>().exposure("A") == never_saved.get<1>().exposure("A"));
  for (int page = 0; page < 200; ++page) {
    const Request r = request(rng, c.size());
    const std::vector<double> a = serve(loaded, c, r);
    const std::vector<double> b = serve(never_saved, c, r);
    if (a != b) {
      CHECK_MESSAGE(a == b, "page ", page);
      break;
    }
  }
  CHECK(saved(loaded) == saved(never_saved));

  SUBCASE("compile-time weights are saved as they are, even all zero") {
    using Zero = mr::MultiObjective<mr::Weighted<mr::Relevance, std::ratio<0>>>;
    Zero zero;
    Zero target;
    CHECK(load_error(target, saved(zero)) == "no error");
    CHECK(target.weights()[0] == 0.0);
  }
  SUBCASE("a MultiObjective without persistent objectives saves its weights") {
    using Plain = mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<mr::Revenue>>;
    Plain plain;
    const std::vector<double> w = {0.25, 2.0};
    plain.set_weights(w);
    Plain target;
    CHECK(load_error(target, saved(plain)) == "no error");
    CHECK(target.weights() == plain.weights());
  }
}

TEST_CASE("MultiObjective: other objectives, damaged and forged streams are Errors that change nothing") {
  const mr::Catalog c = catalog();
  Ranking source;
  mr::Rng rng(2);
  serve(source, c, request(rng, c.size()));
  Ranking target;
  const std::vector<double> weights = {1.0, 1.0, 1.0};
  target.set_weights(weights);
  const std::string before = saved(target);
  check_damage_rejected(target, saved(source), "multi_objective", 4);

  using Other = mr::MultiObjective<mr::Weighted<mr::Relevance>, mr::Weighted<mr::Revenue>>;
  CHECK(load_error(target, saved(Other())) ==
        "loading a 'multi_objective' model: the stream's objectives are (relevance, revenue), these are "
        "(relevance, exposure_fairness, diversity)");
  const auto forge = [](const std::vector<double>& w, const std::string& fairness) {
    std::ostringstream out;
    mr::io::ModelWriter writer(out, "multi_objective", 1);
    mr::io::write_strings(writer, "objectives",
                          std::vector<std::string>{"relevance", "exposure_fairness", "diversity"});
    writer.doubles("weights", w);
    writer.stream("objective_1", fairness);
    writer.finish();
    return out.str();
  };
  const std::string fairness = saved(mr::ExposureFairness());
  Ranking probe;
  CHECK(load_error(probe, forge({0.0, 1.0, 0.0}, fairness)) == "no error");
  CHECK(probe.weights()[1] == 1.0);
  const std::string where = "loading a 'multi_objective' model: ";
  CHECK(load_error(target, forge({0.0, 0.0, 0.0}, fairness)) == where + "every weight is 0");
  CHECK(load_error(target, forge({0.0, -1.0, 0.0}, fairness)) ==
        where + "the weight of 'exposure_fairness' must be finite and >= 0, got -1.000000");
  CHECK(load_error(target, forge({1.0, 1.0}, fairness)) == where + "field 'weights' has 2 values, expected 3");
  CHECK(load_error(target, forge({1.0, 1.0, 1.0}, saved(mr::IdMap()))) ==
        "loading a 'exposure_fairness' model: the stream holds a 'id_map' model");
  CHECK(load_error(target, forge({1.0, 1.0, 1.0}, fairness + "x")) ==
        where + "field 'objective_1' has bytes after its stream");
  CHECK(saved(target) == before);
}
