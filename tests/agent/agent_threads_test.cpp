// An Agent is not thread-safe: one thread at a time calls recommend and learn. These tests run
// the two ways docs/threading_and_persistence.md gives for using one from several threads, and
// are built with -fsanitize=thread too:
// - every call to the agent under one mutex (request threads recommend, a feedback thread learns);
// - a trainer thread owns the agent and publishes read-only copies of its model, which serving
//   threads score, and choose from with explorers of their own, concurrently (Model::score is
//   const and thread-safe; a copy that nobody updates can be shared; an explorer cannot).
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "marl_rec/agent/agent.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/explore/greedy.hpp"
#include "marl_rec/models/linear_q.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "support/concurrently.hpp"

namespace {

namespace mr = marl_rec;

/// 40 items of 6 features and 10 users of 5 features.
struct World {
  World() {
    mr::Rng rng(4);
    for (float& x : items) x = static_cast<float>(rng.normal());
    for (float& x : users) x = static_cast<float>(rng.normal());
  }
  mr::Context context(std::size_t u) const {
    return {.features = std::span<const float>(users).subspan(u % 10 * 5, 5),
            .items = mr::MatrixView(std::span<const float>(items), 40, 6)};
  }
  mr::AlignedVector<float> items = mr::AlignedVector<float>(40 * 6);
  mr::AlignedVector<float> users = mr::AlignedVector<float>(10 * 5);
};

mr::LinearQ bandit() { return mr::LinearQ({.features = mr::FeatureMap::cross, .gamma = 0.0f, .history_in_state = false}); }

}  // namespace

TEST_CASE("Agent behind one mutex: request threads recommend, a feedback thread learns") {
  const World world;
  mr::Agent<mr::LinearQ, mr::EpsilonGreedy> agent(bandit(), mr::EpsilonGreedy({.epsilon = 0.1, .seed = 3}),
                                                  {.max_pending = 1024});
  std::mutex agent_mutex;             // guards every call to the agent
  std::mutex queue_mutex;             // guards the feedback queue
  std::deque<std::uint64_t> answered; // decision ids whose feedback has "arrived"
  constexpr std::size_t requesters = 3, requests = 200;
  std::atomic<std::size_t> producing{requesters};
  std::vector<std::size_t> learned(requesters + 1, 0);
  mr::test::concurrently(requesters + 1, [&](std::size_t t) {
    if (t < requesters) {
      mr::Decision d;
      for (std::size_t r = 0; r < requests; ++r) {
        {
          const std::lock_guard lock(agent_mutex);
          agent.recommend(world.context(t * requests + r), mr::Candidates::all(40), 3, d);
        }
        const std::lock_guard lock(queue_mutex);
        answered.push_back(d.id);
      }
      producing.fetch_sub(1);
      return;
    }
    for (;;) {  // the feedback thread
      std::uint64_t id = 0;
      {
        const std::lock_guard lock(queue_mutex);
        if (!answered.empty()) {
          id = answered.front();
          answered.pop_front();
        }
      }
      if (id == 0) {
        if (producing.load() == 0) {
          const std::lock_guard lock(queue_mutex);
          if (answered.empty()) break;
        }
        std::this_thread::yield();
        continue;
      }
      const std::lock_guard lock(agent_mutex);
      const mr::Feedback feedback{.clicked = {static_cast<std::size_t>(id % 3)}};
      if (agent.learn(id, feedback) == mr::LearnStatus::learned) ++learned[t];
    }
  });
  CHECK(learned[requesters] == requesters * requests);
  CHECK(agent.counters().decisions == requesters * requests);
  CHECK(agent.counters().feedback == requesters * requests);
  CHECK(agent.counters().updates == 3 * requesters * requests);
  CHECK(agent.pending() == 0);
}

TEST_CASE("A trainer thread learns while serving threads score and choose from published copies of its model") {
  const World world;
  // What the trainer publishes: a model nobody will change again, and the scores it gave the
  // probe contexts when it was published (what every reader must see from it).
  struct Snapshot {
    std::shared_ptr<const mr::LinearQ> model;
    std::vector<std::vector<float>> probe_scores;
    std::vector<std::vector<std::size_t>> probe_top3;
  };
  const auto probe = [&](const mr::LinearQ& model) {
    std::vector<std::vector<float>> out(10, std::vector<float>(40));
    for (std::size_t u = 0; u < 10; ++u) model.score(world.context(u), mr::Candidates::all(40), out[u]);
    return out;
  };
  const auto top3 = [&](const mr::LinearQ& model) {
    std::vector<std::vector<std::size_t>> out(10);
    mr::Greedy greedy;
    mr::Decision d;
    for (std::size_t u = 0; u < 10; ++u) {
      greedy.choose(model, world.context(u), mr::Candidates::all(40), 3, mr::NoExclusion{}, d);
      out[u] = d.items;
    }
    return out;
  };
  std::mutex published_mutex;  // guards the pointer only, never a model
  std::shared_ptr<const Snapshot> published;
  const auto publish = [&](const mr::LinearQ& model) {
    auto copy = std::make_shared<const mr::LinearQ>(model);
    auto next = std::make_shared<const Snapshot>(Snapshot{copy, probe(*copy), top3(*copy)});
    const std::lock_guard lock(published_mutex);
    published = std::move(next);
  };
  const auto latest = [&] {
    const std::lock_guard lock(published_mutex);
    return published;
  };

  mr::Agent<mr::LinearQ, mr::Greedy> trainer(bandit());
  publish(trainer.model());
  std::atomic<bool> training{true};
  constexpr std::size_t readers = 3;
  std::vector<std::size_t> wrong(readers + 1, 0), reads(readers + 1, 0);
  mr::test::concurrently(readers + 1, [&](std::size_t t) {
    if (t == readers) {  // the trainer: learn, and publish a copy every 50 decisions
      mr::Rng rng(9);
      mr::Decision d;
      for (std::size_t step = 1; step <= 600; ++step) {
        trainer.recommend(world.context(step), mr::Candidates::all(40), 2, d);
        trainer.learn(d.id, rng.uniform() < 0.3 ? mr::Feedback{.clicked = {0}} : mr::Feedback{});
        if (step % 50 == 0) publish(trainer.model());
      }
      training.store(false);
      return;
    }
    std::vector<float> scores(40);
    mr::Greedy explorer;  // this thread's own: explorers keep scratch (and a generator) of their own
    mr::Decision decision;
    std::size_t u = t;
    do {
      const std::shared_ptr<const Snapshot> snapshot = latest();
      u = (u + 1) % 10;
      snapshot->model->score(world.context(u), mr::Candidates::all(40), scores);
      if (!mr::test::identical(scores, snapshot->probe_scores[u])) ++wrong[t];
      explorer.choose(*snapshot->model, world.context(u), mr::Candidates::all(40), 3, mr::NoExclusion{}, decision);
      if (decision.items != snapshot->probe_top3[u]) ++wrong[t];
      ++reads[t];
    } while (training.load());
  });
  CHECK(wrong == mr::test::no_disagreement(readers + 1));
  CHECK(trainer.counters().feedback == 600);
  for (std::size_t t = 0; t < readers; ++t) CHECK(reads[t] > 0);
  // The last copy scores as the trainer's own model does.
  std::vector<float> mine(40), theirs(40);
  trainer.model().score(world.context(3), mr::Candidates::all(40), mine);
  latest()->model->score(world.context(3), mr::Candidates::all(40), theirs);
  CHECK(mr::test::identical(mine, theirs));
}
