// The serve-while-learn stress test: 4 serving threads × 100,000 recommend() calls while a learner
// thread makes 100,000 learn() calls and another thread changes the catalog. Also built with
// ThreadSanitizer (the tsan preset), where any data race fails it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/explore/epsilon_greedy.hpp"
#include "marl_rec/models/lin_ucb.hpp"
#include "marl_rec/serve/serving_agent.hpp"
#include "support/random_catalog.hpp"
#include "support/concurrently.hpp"

namespace mr = marl_rec;

TEST_CASE("ServingAgent stress: 4 readers x 100k recommend, 100k learn, catalog changes, and no feedback lost") {
  constexpr std::size_t readers = 4;
  constexpr std::uint64_t calls_per_reader = 100'000;
  constexpr std::uint64_t learns = 100'000;  // every 4th decision of every reader
  constexpr std::size_t k = 3;
  using Serving = mr::ServingAgent<mr::LinUcb, mr::EpsilonGreedy>;
  Serving serving(mr::test::random_catalog(64, 8, 11), mr::LinUcb({.features = mr::FeatureMap::item, .alpha = 0.3f}),
                  [](std::uint64_t seed) { return mr::EpsilonGreedy({.epsilon = 0.1, .seed = seed}); },
                  {.publish_every = 256, .max_pending = std::size_t{1} << 19});

  std::mutex queue_mutex;
  std::deque<std::pair<std::uint64_t, std::size_t>> queue;  // (decision id, items shown)
  std::atomic<std::size_t> serving_done{0};
  std::atomic<std::size_t> retired_upto{0};  // items 0 .. retired_upto-1 are retired and published
  std::vector<std::uint64_t> bad_items(readers, 0), short_decisions(readers, 0);
  std::uint64_t not_learned = 0, learned = 0, learned_updates = 0, catalog_changes = 0;

  mr::test::concurrently(readers + 2, [&](std::size_t t) {
    if (t < readers) {  // a serving thread
      Serving::Reader reader = serving.reader();
      mr::Decision out;
      const std::vector<float> x = {1.0f};
      for (std::uint64_t i = 0; i < calls_per_reader; ++i) {
        const std::size_t retired_before = retired_upto.load(std::memory_order_acquire);
        reader.recommend(mr::Context{.features = x}, k, out);
        for (const std::size_t item : out.items) bad_items[t] += item < retired_before ? 1 : 0;
        short_decisions[t] += out.items.size() == k ? 0 : 1;
        if (i % 4 == 0) {
          const std::lock_guard<std::mutex> lock(queue_mutex);
          queue.emplace_back(out.id, out.items.size());
        }
      }
      serving_done.fetch_add(1);
    } else if (t == readers) {  // the learner
      mr::Rng rng(3);
      while (learned + not_learned < learns) {
        std::pair<std::uint64_t, std::size_t> next{0, 0};
        {
          const std::lock_guard<std::mutex> lock(queue_mutex);
          if (!queue.empty()) {
            next = queue.front();
            queue.pop_front();
          }
        }
        if (next.first == 0) {
          std::this_thread::yield();
          continue;
        }
        const mr::Feedback fb{.clicked = {static_cast<std::size_t>(rng.below(k))}};
        if (serving.learn(next.first, fb) == mr::LearnStatus::learned) {
          ++learned;
          learned_updates += next.second;
        } else {
          ++not_learned;
        }
      }
    } else {  // the merchandiser: adds an item and retires the oldest, while serving goes on
      std::size_t next_item = 64;
      while (serving_done.load() < readers && catalog_changes < 40) {
        const std::vector<float> v(8, 0.25f);
        const std::size_t retire = retired_upto.load();
        serving.update_catalog([&](mr::Catalog& c) {
          c.add(mr::numbered_id("new", next_item), v);
          c.retire(retire);
        });
        ++next_item;
        retired_upto.store(retire + 1, std::memory_order_release);
        ++catalog_changes;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  });
  for (std::size_t t = 0; t < readers; ++t) {
    CHECK(bad_items[t] == 0);        // never a retired item
    CHECK(short_decisions[t] == 0);  // always k items
  }
  CHECK(learned == learns);
  CHECK(not_learned == 0);
  CHECK(catalog_changes >= 1);
  const mr::ServingCounters c = serving.counters();
  CHECK(c.decisions == readers * calls_per_reader);
  CHECK(c.feedback == learns);
  CHECK(c.updates == learned_updates);
  CHECK(c.duplicates == 0);
  CHECK(c.late == 0);
  CHECK(c.expired == 0);
  CHECK(serving.pending() == readers * calls_per_reader - learns);
  // Every learned update reached the model, and the last publish shows them all.
  serving.publish();
  CHECK(serving.model()->updates() == learned_updates);
  CHECK(serving.catalog()->active_size() == 64);
  MESSAGE("catalog changes during the run: " << catalog_changes << ", snapshots: " << c.snapshots);
}

TEST_CASE("ServingAgent: saves taken while threads serve and learn all load, with consistent contents") {
  using Serving = mr::ServingAgent<mr::LinUcb, mr::EpsilonGreedy>;
  const auto explorers = [](std::uint64_t seed) { return mr::EpsilonGreedy({.epsilon = 0.2, .seed = seed}); };
  Serving serving(mr::test::random_catalog(32, 4, 12), mr::LinUcb({.features = mr::FeatureMap::item}), explorers,
                  {.publish_every = 16, .max_pending = 4096, .time_to_live = 0.02, .default_reward = 0.0});
  std::mutex queue_mutex;
  std::deque<std::uint64_t> queue;
  std::atomic<std::size_t> serving_done{0};
  std::vector<std::string> saves;
  std::uint64_t learned = 0;
  mr::test::concurrently(5, [&](std::size_t t) {
    if (t < 2) {  // serving threads
      Serving::Reader reader = serving.reader();
      mr::Decision out;
      const std::vector<float> x = {1.0f};
      for (int i = 0; i < 20'000; ++i) {
        reader.recommend(mr::Context{.features = x}, 2, out);
        if (i % 4 == 0) {
          const std::lock_guard<std::mutex> lock(queue_mutex);
          queue.push_back(out.id);
        }
      }
      serving_done.fetch_add(1);
    } else if (t == 2) {  // the learner (many decisions expire first: a 20 ms time-to-live)
      while (serving_done.load() < 2) {
        std::uint64_t id = 0;
        {
          const std::lock_guard<std::mutex> lock(queue_mutex);
          if (!queue.empty()) {
            id = queue.front();
            queue.pop_front();
          }
        }
        if (id == 0) {
          std::this_thread::yield();
          continue;
        }
        learned += serving.learn(id, {.clicked = {0}}) == mr::LearnStatus::learned ? 1 : 0;
      }
    } else if (t == 3) {  // a merchandiser
      for (int i = 0; i < 10 && serving_done.load() < 2; ++i) {
        const std::vector<float> v(4, 0.5f);
        serving.update_catalog([&](mr::Catalog& c) { c.add(mr::numbered_id("extra", static_cast<std::size_t>(i)), v); });
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } else {  // the saver
      while (serving_done.load() < 2 && saves.size() < 100) {
        std::ostringstream out;
        serving.save(out);
        saves.push_back(out.str());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  });
  REQUIRE(saves.size() >= 1);
  std::size_t loaded = 0;
  for (const std::string& bytes : saves) {
    Serving restored(mr::test::random_catalog(1, 4, 1), mr::LinUcb(), explorers);
    std::istringstream in(bytes);
    restored.load(in);  // every save loads: no decision past the saved next id or catalog
    const mr::ServingCounters c = restored.counters();
    CHECK(c.feedback <= c.decisions);
    CHECK(restored.pending() <= 4096);
    ++loaded;
  }
  CHECK(loaded == saves.size());
  MESSAGE("saves taken while serving: " << saves.size() << ", decisions learned: " << learned);
}
