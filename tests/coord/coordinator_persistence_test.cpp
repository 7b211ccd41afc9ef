// Saving and loading a Coordinator (its pages, its policy, its agents) and the coordination
// policies; save, load and go on must give what never stopping gives.
#include <doctest/doctest.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "marl_rec/coord/coordinator.hpp"
#include "marl_rec/coord/federated_averaging.hpp"
#include "marl_rec/coord/independent.hpp"
#include "marl_rec/coord/shared_model.hpp"
#include "marl_rec/coord/slot_auction.hpp"
#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/explore/softmax.hpp"
#include "marl_rec/explore/thompson.hpp"
#include "marl_rec/models/lin_thompson.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/objective/multi_objective.hpp"
#include "marl_rec/objective/relevance.hpp"
#include "support/errors.hpp"
#include "support/stream_checks.hpp"
#include "support/stream_fields.hpp"

namespace mr = marl_rec;
using mr::test::load_error;
using mr::test::saved;

namespace {

using Ranking = mr::MultiObjective<mr::Weighted<mr::Relevance>>;
using Products = mr::Agent<mr::LinUcb, mr::EpsilonGreedy>;
using Content = mr::Agent<mr::LinUcb, mr::Softmax>;
using Ads = mr::Agent<mr::LinThompson, mr::Thompson>;
using Page = mr::Coordinator<mr::SlotAuction, Products, Content, Ads>;

struct ManualClock {
  double now = 0.0;
};

mr::Catalog random_catalog(std::size_t n, std::uint64_t seed) {
  mr::Rng rng(seed);
  mr::Catalog catalog(4);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<float> v(4);
    for (float& x : v) x = static_cast<float>(rng.normal());
    catalog.add(mr::numbered_id("item", i), v);
  }
  return catalog;
}

// The agents' clocks read `clock`.
template <class C>
void set_clocks(C& page, ManualClock& clock) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (page.template with_agent<I>([&](auto& agent) { agent.set_clock([&clock] { return clock.now; }); }), ...);
  }(std::make_index_sequence<C::agent_count>{});
}

Page make_page(const mr::Catalog& catalog, ManualClock& clock) {
  const mr::AgentConfig config{.max_pending = 40, .time_to_live = 25.0, .default_reward = -0.1};
  Page page(catalog,
            mr::SlotAuction({.quotas = {2, 2, 1}, .proposals = 4, .credit = mr::Credit::difference}),
            {.max_pending = 16},
            Products(mr::LinUcb({.alpha = 0.3f}), mr::EpsilonGreedy({.epsilon = 0.2, .decay = 0.02, .seed = 1}), config),
            Content(mr::LinUcb({.alpha = 0.7f}), mr::Softmax({.temperature = 0.5, .seed = 2}), config),
            Ads(mr::LinThompson{}, mr::Thompson({.propensity_draws = 8, .seed = 3}), {.time_to_live = 12.0}));
  set_clocks(page, clock);
  return page;
}

// Another config everywhere, to load into.
Page other_page(const mr::Catalog& catalog, ManualClock& clock) {
  Page page(catalog, mr::SlotAuction({.quotas = {1, 1, 1}}), {.max_pending = 3},
            Products(mr::LinUcb{}, mr::EpsilonGreedy({.seed = 50}), {.max_pending = 2}),
            Content(mr::LinUcb{}, mr::Softmax({.seed = 51})), Ads(mr::LinThompson{}, mr::Thompson({.seed = 52})));
  set_clocks(page, clock);
  return page;
}

struct Delivery {
  std::size_t page = 0;  // the step whose page it answers
  mr::Feedback feedback;  // by slot (only slots the page has are kept, at delivery)
};
struct Step {
  double dt = 0.0;
  std::vector<float> features;
  std::size_t slots = 1;
  std::vector<Delivery> deliveries;
};

std::vector<Step> script(int steps, std::uint64_t seed) {
  mr::Rng rng(seed);
  std::vector<Step> s(static_cast<std::size_t>(steps));
  for (std::size_t t = 0; t < s.size(); ++t) {
    s[t].dt = 0.5 * static_cast<double>(rng.below(4));
    for (int i = 0; i < 3; ++i) s[t].features.push_back(static_cast<float>(rng.normal()));
    s[t].slots = 2 + static_cast<std::size_t>(rng.below(4));
    const double u = rng.uniform();
    const int copies = u < 0.15 ? 0 : (u < 0.85 ? 1 : 2);
    for (int c = 0; c < copies; ++c) {
      const std::size_t at = t + 1 + static_cast<std::size_t>(rng.below(30));
      if (at >= s.size()) continue;
      Delivery d{.page = t, .feedback = {}};
      for (std::size_t slot = 0; slot < s[t].slots; ++slot) {
        if (rng.bernoulli(0.3)) d.feedback.clicked.push_back(slot);
        if (rng.bernoulli(0.05)) d.feedback.purchased.push_back(slot);
      }
      s[at].deliveries.push_back(d);
    }
  }
  return s;
}

mr::Feedback on_page(const mr::Feedback& f, std::size_t slots) {
  mr::Feedback out;
  for (const std::size_t s : f.clicked) {
    if (s < slots) out.clicked.push_back(s);
  }
  for (const std::size_t s : f.purchased) {
    if (s < slots) out.purchased.push_back(s);
  }
  return out;
}

// Runs steps [begin, end): page ids and sizes go to ids / sizes, everything observable to trace.
template <class C>
void drive(C& page, ManualClock& clock, const mr::Catalog& catalog, const std::vector<Step>& steps, std::size_t begin,
           std::size_t end, std::vector<std::uint64_t>& ids, std::vector<std::size_t>& sizes,
           std::vector<std::uint64_t>& trace) {
  const std::size_t n = catalog.size();
  std::vector<std::vector<std::size_t>> lists(C::agent_count);
  for (std::size_t i = 0; i < n; ++i) lists[i % C::agent_count].push_back(i);
  std::vector<mr::Candidates> pools;
  for (const auto& l : lists) pools.emplace_back(l);
  Ranking ranking;
  for (std::size_t t = begin; t < end; ++t) {
    const Step& step = steps[t];
    clock.now += step.dt;
    for (const Delivery& d : step.deliveries) {
      trace.push_back(static_cast<std::uint64_t>(page.learn(ids[d.page], on_page(d.feedback, sizes[d.page]))));
    }
    const mr::Context context{.features = step.features, .items = catalog.embeddings()};
    const mr::Slate slate = page.recommend(context, pools, step.slots, ranking);
    ids[t] = slate.id;
    sizes[t] = slate.size();
    trace.push_back(slate.id);
    trace.insert(trace.end(), slate.items.begin(), slate.items.end());
    trace.insert(trace.end(), slate.agents.begin(), slate.agents.end());
    for (const double s : slate.scores) trace.push_back(std::bit_cast<std::uint64_t>(s));
    for (const float p : slate.propensities) trace.push_back(std::bit_cast<std::uint32_t>(p));
    const mr::CoordinatorCounters& c = page.counters();
    trace.insert(trace.end(), {c.pages, c.feedback, c.duplicates, c.late, c.evicted, page.pending()});
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((trace.push_back(page.template agent<I>().counters().updates),
        trace.push_back(page.template agent<I>().counters().expired)),
       ...);
    }(std::make_index_sequence<C::agent_count>{});
  }
}

std::string first_page_field(const std::string& bytes, std::string_view name) {
  return mr::test::field_payload(bytes, name);
}

// A policy without save/load: a coordinator over it saves everything else.
struct OnlyFirst {
  std::string_view name() const { return "only_first"; }
  template <class Objectives, class... Agents>
  void assemble(mr::PageAssembly<Objectives, Agents...>& page) {
    const mr::Decision& d = page.propose(0, page.slots());
    const std::vector<double> row(page.page().explanation.objectives.size(), 0.0);
    for (std::size_t p = 0; p < d.size(); ++p) page.place(0, p, 0.0, row);
  }
  template <class... Agents>
  void credit(const mr::PageCredit<Agents...>& page, const mr::Feedback& f, std::span<mr::Feedback> out) const {
    mr::local_credit(page, f, out);
  }
  template <class... Agents>
  void after_learn(std::tuple<Agents...>&, std::uint64_t) const noexcept {}
};

}  // namespace

TEST_CASE("Coordinator persistence: save at N/2, load into another config, go on: identical to never stopping") {
  const mr::Catalog catalog = random_catalog(30, 1);
  const std::vector<Step> steps = script(300, 2);
  const std::size_t half = steps.size() / 2;

  ManualClock clock_a;
  Page uninterrupted = make_page(catalog, clock_a);
  std::vector<std::uint64_t> ids_a(steps.size()), trace_a;
  std::vector<std::size_t> sizes_a(steps.size());
  drive(uninterrupted, clock_a, catalog, steps, 0, steps.size(), ids_a, sizes_a, trace_a);

  ManualClock clock_b;
  Page first = make_page(catalog, clock_b);
  std::vector<std::uint64_t> ids_b(steps.size()), trace_b;
  std::vector<std::size_t> sizes_b(steps.size());
  drive(first, clock_b, catalog, steps, 0, half, ids_b, sizes_b, trace_b);
  REQUIRE(first.pending() > 0);
  const std::string bytes = saved(first);

  ManualClock clock_c{clock_b.now};
  Page loaded = other_page(catalog, clock_c);
  const mr::MatrixView matrices[] = {catalog.embeddings()};
  CHECK(load_error(loaded, bytes, std::span<const mr::MatrixView>(matrices)) == "no error");
  CHECK(saved(loaded) == bytes);
  CHECK(loaded.config().max_pending == 16);
  CHECK(loaded.policy().config().quotas == std::vector<std::size_t>{2, 2, 1});
  CHECK(loaded.policy().config().credit == mr::Credit::difference);
  CHECK(loaded.agent<0>().config().max_pending == 40);
  CHECK(loaded.agent<2>().explorer().config().propensity_draws == 8);
  CHECK(loaded.pending() == first.pending());
  drive(loaded, clock_c, catalog, steps, half, steps.size(), ids_b, sizes_b, trace_b);

  CHECK(ids_b == ids_a);
  REQUIRE(trace_b.size() == trace_a.size());
  std::size_t first_difference = trace_a.size();
  for (std::size_t i = 0; i < trace_a.size() && first_difference == trace_a.size(); ++i) {
    if (trace_a[i] != trace_b[i]) first_difference = i;
  }
  CHECK_MESSAGE(first_difference == trace_a.size(), "the traces differ at entry ", first_difference);
  CHECK(saved(loaded) == saved(uninterrupted));
  const mr::CoordinatorCounters& c = uninterrupted.counters();
  CHECK(c.late > 0);
  CHECK(c.duplicates > 0);
  CHECK(c.evicted > 0);
}

TEST_CASE("Coordinator persistence: SharedModel and Independent coordinators go on identically too") {
  const mr::Catalog catalog = random_catalog(24, 3);
  const std::vector<Step> steps = script(80, 4);
  const auto shared_page = [&](ManualClock& clock, std::uint64_t seed) {
    mr::Coordinator page(catalog, mr::SharedModel({.proposals = 3}),
                         mr::make_shared_agents(mr::LinUcb({.alpha = 0.4f}), {.max_pending = 64},
                                                mr::EpsilonGreedy({.epsilon = 0.3, .seed = seed}),
                                                mr::EpsilonGreedy({.epsilon = 0.3, .seed = seed + 1})));
    set_clocks(page, clock);
    return page;
  };
  ManualClock clock_a, clock_b;
  auto uninterrupted = shared_page(clock_a, 1);
  auto first = shared_page(clock_b, 1);
  std::vector<std::uint64_t> ids_a(steps.size()), ids_b(steps.size()), trace_a, trace_b;
  std::vector<std::size_t> sizes_a(steps.size()), sizes_b(steps.size());
  drive(uninterrupted, clock_a, catalog, steps, 0, steps.size(), ids_a, sizes_a, trace_a);
  drive(first, clock_b, catalog, steps, 0, 40, ids_b, sizes_b, trace_b);
  const std::string bytes = saved(first);
  ManualClock clock_c{clock_b.now};
  auto loaded = shared_page(clock_c, 7);
  const mr::MatrixView matrices[] = {catalog.embeddings()};
  CHECK(load_error(loaded, bytes, std::span<const mr::MatrixView>(matrices)) == "no error");
  // Each agent loaded the shared model through its handle: they still share one.
  CHECK(loaded.agent<0>().model().shares_with(loaded.agent<1>().model()));
  CHECK(loaded.policy().config().proposals == 3);
  drive(loaded, clock_c, catalog, steps, 40, steps.size(), ids_b, sizes_b, trace_b);
  CHECK(trace_b == trace_a);
  CHECK(saved(loaded) == saved(uninterrupted));

  // Independent: a round trip of the whole coordinator gives the same bytes.
  ManualClock clock;
  mr::Coordinator independent(catalog, mr::Independent({.layout = {1, 0, 1, 0, 1}}),
                              Products(mr::LinUcb{}, mr::EpsilonGreedy({.seed = 4})),
                              Products(mr::LinUcb{}, mr::EpsilonGreedy({.seed = 5})));
  set_clocks(independent, clock);
  std::vector<std::uint64_t> ids(10), trace;
  std::vector<std::size_t> sizes(10);
  drive(independent, clock, catalog, script(10, 5), 0, 10, ids, sizes, trace);
  mr::Coordinator other(catalog, mr::Independent{}, Products{}, Products{});
  set_clocks(other, clock);
  CHECK(load_error(other, saved(independent), std::span<const mr::MatrixView>(matrices)) == "no error");
  CHECK(other.policy().config().layout == std::vector<std::size_t>{1, 0, 1, 0, 1});
  CHECK(saved(other) == saved(independent));
}

TEST_CASE("Coordinator persistence: the policy is saved when it saves itself") {
  const mr::Catalog catalog = random_catalog(12, 6);
  ManualClock clock;
  mr::Coordinator plain(catalog, OnlyFirst{}, Products{}, Products{});
  set_clocks(plain, clock);
  std::vector<std::uint64_t> ids(6), trace;
  std::vector<std::size_t> sizes(6);
  drive(plain, clock, catalog, script(6, 7), 0, 6, ids, sizes, trace);
  const std::string bytes = saved(plain);
  for (const auto& f : mr::test::parse_fields(bytes).fields) CHECK(f.name != "policy");
  mr::Coordinator target(catalog, OnlyFirst{}, Products{}, Products{});
  set_clocks(target, clock);
  const mr::MatrixView matrices[] = {catalog.embeddings()};
  CHECK(load_error(target, bytes, std::span<const mr::MatrixView>(matrices)) == "no error");
  CHECK(saved(target) == bytes);

  // FederatedAveraging has its own save/load, which the coordinator uses.
  using QAgent = mr::Agent<mr::LinearQ, mr::Greedy>;
  mr::Coordinator fed(catalog, mr::FederatedAveraging({.seed = 9, .pages_per_round = 2}), QAgent{}, QAgent{});
  bool has_policy = false;
  for (const auto& f : mr::test::parse_fields(saved(fed)).fields) has_policy = has_policy || f.name == "policy";
  CHECK(has_policy);
  mr::Coordinator fed_target(catalog, mr::FederatedAveraging{}, QAgent{}, QAgent{});
  CHECK(load_error(fed_target, saved(fed)) == "no error");
  CHECK(fed_target.policy().config().pages_per_round == 2);
  CHECK(fed_target.policy().config().seed == 9);
}

TEST_CASE("Coordinator persistence: damaged, foreign and forged streams are Errors that change nothing") {
  using mr::test::u64_payload;
  using mr::test::u64s_payload;
  using mr::test::with_field;
  const mr::Catalog catalog = random_catalog(15, 8);
  const std::vector<Step> steps = script(8, 9);
  ManualClock clock;
  const mr::AgentConfig small{.max_pending = 8};
  Page page(catalog, mr::SlotAuction({.quotas = {2, 2, 1}}), {.max_pending = 4},
            Products(mr::LinUcb{}, mr::EpsilonGreedy{}, small), Content(mr::LinUcb{}, mr::Softmax{}, small),
            Ads(mr::LinThompson{}, mr::Thompson({.propensity_draws = 3}), small));
  set_clocks(page, clock);
  std::vector<std::uint64_t> ids(steps.size()), trace;
  std::vector<std::size_t> sizes(steps.size());
  drive(page, clock, catalog, steps, 0, steps.size(), ids, sizes, trace);
  const std::string bytes = saved(page);

  ManualClock target_clock;
  Page target = other_page(catalog, target_clock);
  mr::test::check_damage_rejected(target, bytes, "coordinator", 13);

  const std::string before = saved(target);
  const mr::MatrixView matrices[] = {catalog.embeddings()};
  const auto load = [&](const std::string& stream) {
    return load_error(target, stream, std::span<const mr::MatrixView>(matrices));
  };
  CHECK(load(saved(page.agent<0>())) == "loading a 'coordinator' model: the stream holds a 'agent' model");
  CHECK(load(with_field(bytes, "agents", u64_payload(4))) ==
        "loading a 'coordinator' model: field 'agents' = 4 is outside [3, 3]");
  CHECK(load(with_field(bytes, "max_pending", u64_payload(0))) ==
        "loading a 'coordinator' model: field 'max_pending' = 0 is outside [1, 1048576]");
  // The ring holds pages 5..8; page 5 is the first saved.
  std::string agents = first_page_field(bytes, "slot_agents");
  REQUIRE(agents.size() >= 8);
  agents[0] = 7;
  CHECK(load(with_field(bytes, "slot_agents", agents)) ==
        "loading a 'coordinator' model: page 5: slot 0 names agent 7, which has no decision on the page");
  CHECK(load(with_field(bytes, "decisions", u64s_payload({999, 1, 1}))) ==
        "loading a 'coordinator' model: page 5: agent 0's decision 999 was never issued by it");
  CHECK(load(with_field(with_field(bytes, "answered", u64_payload(0)), "answered_late", u64_payload(1))) ==
        "loading a 'coordinator' model: field 'answered_late' = 1 is outside [0, 0]");
  CHECK(load(with_field(bytes, "policy", saved(mr::Independent{}))) ==
        "loading a 'slot_auction' model: the stream holds a 'independent' model");
  CHECK(load(with_field(bytes, "agent_1", first_page_field(bytes, "agent_0"))) ==
        "loading a 'softmax' model: the stream holds a 'epsilon_greedy' model");
  const std::string no_matrices = load_error(target, bytes);
  CHECK(no_matrices.rfind("loading a 'agent' model: pending decision ", 0) == 0);
  CHECK(no_matrices.find("refers to a 15 x 4 item matrix") != std::string::npos);
  CHECK(saved(target) == before);
  CHECK(load(bytes) == "no error");
}

TEST_CASE("Policies save their config: Independent, SharedModel and SlotAuction") {
  using mr::test::f64_payload;
  using mr::test::u64_payload;
  using mr::test::with_field;
  const mr::SlotAuction auction({.quotas = {3, 0, 1}, .proposals = 6, .credit = mr::Credit::difference,
                                 .min_no_action = 0.25});
  mr::SlotAuction auction_loaded;
  CHECK(load_error(auction_loaded, saved(auction)) == "no error");
  CHECK(auction_loaded.config().quotas == std::vector<std::size_t>{3, 0, 1});
  CHECK(auction_loaded.config().proposals == 6);
  CHECK(auction_loaded.config().credit == mr::Credit::difference);
  CHECK(auction_loaded.config().min_no_action == 0.25);
  CHECK(saved(auction_loaded) == saved(auction));
  const std::string before = saved(auction_loaded);
  CHECK(load_error(auction_loaded, with_field(saved(auction), "min_no_action", f64_payload(0.0))) ==
        "loading a 'slot_auction' model: field 'min_no_action' must be in (0, 1], got 0.000000");
  CHECK(load_error(auction_loaded, with_field(saved(auction), "credit", u64_payload(2))) ==
        "loading a 'slot_auction' model: field 'credit' = 2 is outside [0, 1]");
  CHECK(load_error(auction_loaded, saved(mr::SharedModel{})) ==
        "loading a 'slot_auction' model: the stream holds a 'shared_model' model");
  mr::test::check_damage_rejected(auction_loaded, saved(auction), "slot_auction");
  CHECK(saved(auction_loaded) == before);

  const mr::Independent independent({.layout = {0, 2, 1}, .proposals = 5});
  mr::Independent independent_loaded;
  CHECK(load_error(independent_loaded, saved(independent)) == "no error");
  CHECK(independent_loaded.config().layout == std::vector<std::size_t>{0, 2, 1});
  CHECK(independent_loaded.config().proposals == 5);
  mr::test::check_damage_rejected(independent_loaded, saved(independent), "independent");

  const mr::SharedModel shared({.layout = {1, 1, 0}});
  mr::SharedModel shared_loaded;
  CHECK(load_error(shared_loaded, saved(shared)) == "no error");
  CHECK(shared_loaded.config().layout == std::vector<std::size_t>{1, 1, 0});
  CHECK(load_error(shared_loaded, saved(independent)) ==
        "loading a 'shared_model' model: the stream holds a 'independent' model");
  mr::test::check_damage_rejected(shared_loaded, saved(shared), "shared_model");
}
