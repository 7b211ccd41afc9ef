// dist::MpiFederatedAveraging (run under mpiexec with any number of ranks): the agents of the
// in-process FederatedAveraging spread over the ranks reach the same parameters (to float
// rounding), with and without differential privacy (same noise, same accounting, same clipping),
// on a vector model and on MatrixFactorization; every rank holds the same bits after a round;
// the cadence; save / load; errors agreed on by every rank.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <mpi.h>

#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/coord/federated_averaging.hpp"
#include "marl_rec/coord/privacy_accountant.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/dist/mpi_federated_averaging.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "support/errors.hpp"

namespace {

using marl_rec::FederatedAveraging;
using marl_rec::Rng;
using marl_rec::dist::Communicator;
using marl_rec::dist::MpiFederatedAveraging;
using marl_rec::test::error_of;

// A FederatedModel whose shared parameters are a plain vector; "training" pulls them towards a
// target with noise, so that agents drift apart between rounds.
class VectorModel {
 public:
  explicit VectorModel(std::vector<float> p = {}) : p_(std::move(p)) {}
  void score(const marl_rec::Context&, marl_rec::Candidates c, std::span<float> s) const {
    for (std::size_t k = 0; k < c.size(); ++k) s[k] = p_[c[k]];
  }
  void update(const marl_rec::Context&, std::size_t item, double reward) {
    p_[item] += static_cast<float>(reward);
  }
  void save(std::ostream& out) const {
    marl_rec::io::ModelWriter w(out, "vector", 1);
    w.floats("p", p_);
    w.finish();
  }
  void load(std::istream& in) {
    marl_rec::io::ModelReader r(in, "vector", 1);
    p_ = r.floats("p", r.array_size("p"));
    r.finish();
  }
  std::string_view name() const { return "vector"; }
  std::span<const float> shared_parameters() const { return p_; }
  void set_shared_parameters(std::span<const float> v) {
    marl_rec::detail::require(v.size() == p_.size(), "VectorModel: size mismatch");
    p_.assign(v.begin(), v.end());
  }

 private:
  std::vector<float> p_;
};
static_assert(marl_rec::FederatedModel<VectorModel>);

constexpr std::size_t agents = 6;

// Agent a's local training of `round`: `steps` random pulls (a function of a and round only).
void train(VectorModel& m, std::size_t a, std::size_t round, std::size_t steps) {
  Rng rng(1000 * (a + 1) + round);
  const std::size_t n = m.shared_parameters().size();
  for (std::size_t s = 0; s < steps; ++s) {
    const std::size_t item = rng.below(n);
    m.update({}, item, 0.1 * (static_cast<double>(a) - 2.5) + 0.05 * rng.normal());
  }
}

void train(marl_rec::MatrixFactorization& m, std::size_t a, std::size_t round, std::size_t steps) {
  Rng rng(1000 * (a + 1) + round);
  for (std::size_t s = 0; s < steps; ++s) {
    const std::size_t user = a + agents * rng.below(2);  // agent a's users: a and a + 6
    m.update({.user = user}, rng.below(8), rng.bernoulli(0.3 + 0.1 * static_cast<double>(a % 3)) ? 1.0 : 0.0);
  }
}

// Fresh agents, all alike (they differ only after training).
std::vector<VectorModel> fresh(std::size_t n_agents, VectorModel) {
  Rng rng(5);
  std::vector<float> p(40);
  for (float& x : p) x = static_cast<float>(rng.normal());
  return std::vector<VectorModel>(n_agents, VectorModel(p));
}

std::vector<marl_rec::MatrixFactorization> fresh(std::size_t n_agents, const marl_rec::MatrixFactorization&) {
  marl_rec::Interactions data;
  for (std::size_t u = 0; u < 2 * agents; ++u) data.users.intern(marl_rec::numbered_id("u", u));
  for (std::size_t i = 0; i < 8; ++i) data.items.intern(marl_rec::numbered_id("i", i));
  for (std::size_t u = 0; u < 2 * agents; ++u) data.rows.push_back({.user = u, .item = u % 8});
  marl_rec::MatrixFactorization initial(
      {.factors = 4, .epochs = 0, .learning_rate = 0.05f, .init_scale = 0.3f, .seed = 2});
  initial.fit(data);
  return std::vector<marl_rec::MatrixFactorization>(n_agents, initial);
}

template <class M>
std::vector<M*> pointers(std::vector<M>& models) {
  std::vector<M*> out;
  for (M& m : models) out.push_back(&m);
  return out;
}

// True when every rank holds the same bits in `values`.
bool same_on_every_rank(const Communicator& comm, std::span<const float> values) {
  std::uint64_t h = 1469598103934665603ull ^ values.size();
  for (const float v : values) h = (h ^ std::bit_cast<std::uint32_t>(v)) * 1099511628211ull;
  std::uint64_t extremes[2] = {h, ~h};
  MPI_Allreduce(MPI_IN_PLACE, extremes, 2, MPI_UINT64_T, MPI_MAX, comm.get());
  return extremes[0] == ~extremes[1];
}

bool all_ranks(const Communicator& comm, bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm.get());
  return all == 1;
}

// Runs `rounds` rounds in process (every rank computes the reference alone) and over MPI (agent
// a on rank owner(a)), then checks that they agree. Agent a learns from a + 1 examples a round,
// except agent 1 in round 1 (weight 0: it learned nothing).
template <class M, class Owner>
void compare_with_in_process(const Communicator& comm, const marl_rec::FederatedAveragingConfig& config,
                             std::size_t rounds, Owner owner) {
  std::vector<M> reference = fresh(agents, M{});
  std::vector<M*> reference_ptrs = pointers(reference);
  FederatedAveraging in_process(config);
  in_process.broadcast(reference_ptrs);

  std::vector<M> all = fresh(agents, M{});  // only the rank's own agents are used
  std::vector<M*> mine;
  std::vector<std::size_t> ids;
  for (std::size_t a = 0; a < agents; ++a) {
    if (owner(a) == comm.rank()) {
      mine.push_back(&all[a]);
      ids.push_back(a);
    }
  }
  MpiFederatedAveraging over_mpi(comm, {.privacy = config.privacy,
                                        .seed = config.seed,
                                        .server_learning_rate = config.server_learning_rate,
                                        .every_n_updates = 1});
  over_mpi.broadcast(mine);

  for (std::size_t round = 0; round < rounds; ++round) {
    std::vector<double> reference_weights(agents), my_weights;
    for (std::size_t a = 0; a < agents; ++a) {
      const std::size_t steps = (a == 1 && round == 1) ? 0 : a + 1;
      train(reference[a], a, round, steps);
      reference_weights[a] = static_cast<double>(steps);
    }
    for (std::size_t j = 0; j < mine.size(); ++j) {
      train(*mine[j], ids[j], round, static_cast<std::size_t>(reference_weights[ids[j]]));
      my_weights.push_back(reference_weights[ids[j]]);
    }
    in_process.average(reference_ptrs, reference_weights);
    over_mpi.average(mine, my_weights);

    const std::span<const float> want = in_process.global_parameters();
    const std::span<const float> got = over_mpi.global_parameters();
    bool close = want.size() == got.size();
    double worst = 0.0;
    for (std::size_t k = 0; close && k < want.size(); ++k) {
      const double error = std::abs(static_cast<double>(got[k]) - static_cast<double>(want[k]));
      worst = std::max(worst, error / std::max(1.0, std::abs(static_cast<double>(want[k]))));
    }
    close = close && worst <= 1e-5;
    CHECK_MESSAGE(all_ranks(comm, close), "round " << round << ": relative error " << worst);
    bool models_hold_global = true;
    for (M* m : mine) {
      const std::span<const float> p = m->shared_parameters();
      models_hold_global = models_hold_global && std::equal(p.begin(), p.end(), got.begin(), got.end());
    }
    CHECK(models_hold_global);
    CHECK(same_on_every_rank(comm, got));
    CHECK(over_mpi.rounds() == in_process.rounds());
    CHECK(over_mpi.last_round().total_weight == doctest::Approx(in_process.last_round().total_weight));
    CHECK(over_mpi.last_round().clipped == in_process.last_round().clipped);
    CHECK(over_mpi.last_round().max_update_norm ==
          doctest::Approx(in_process.last_round().max_update_norm).epsilon(1e-9));
    CHECK(over_mpi.last_round().noise_std == doctest::Approx(in_process.last_round().noise_std).epsilon(1e-12));
    CHECK_FALSE(over_mpi.last_round().resynchronised);
    // The accounting is the in-process accounting, step for step.
    CHECK(std::bit_cast<std::uint64_t>(over_mpi.epsilon()) == std::bit_cast<std::uint64_t>(in_process.epsilon()));
  }
}

}  // namespace

TEST_CASE("MpiFederatedAveraging equals in-process FederatedAveraging: plain mean, vector model") {
  const Communicator comm(MPI_COMM_WORLD);
  const auto owner = [&](std::size_t a) { return static_cast<int>(a % static_cast<std::size_t>(comm.size())); };
  compare_with_in_process<VectorModel>(comm, {}, 4, owner);
  // η ≠ 1, and every agent on rank 0 (the other ranks own no model).
  compare_with_in_process<VectorModel>(comm, {.server_learning_rate = 2.5}, 3, [](std::size_t) { return 0; });
}

TEST_CASE("MpiFederatedAveraging equals in-process FederatedAveraging with privacy: same noise and accounting") {
  const Communicator comm(MPI_COMM_WORLD);
  const auto owner = [&](std::size_t a) { return static_cast<int>(a % static_cast<std::size_t>(comm.size())); };
  marl_rec::FederatedAveragingConfig config;
  config.privacy = {.enabled = true, .clip_norm = 0.3, .noise_multiplier = 0.7, .delta = 1e-5};
  config.seed = 77;
  config.server_learning_rate = 1.5;
  compare_with_in_process<VectorModel>(comm, config, 4, owner);
  // Clipping only (z = 0: an unbounded step, ε = +∞, as in process).
  config.privacy.noise_multiplier = 0.0;
  compare_with_in_process<VectorModel>(comm, config, 2, owner);
}

TEST_CASE("MpiFederatedAveraging, noise before the reduce: the same noise distribution on the mean, deterministic, the same bits on every rank") {
  const Communicator comm(MPI_COMM_WORLD);
  constexpr std::size_t n = 20000;  // parameters: enough to measure the noise's spread to ~1 %
  // One agent per rank (rank r's agent moved by r + 1 from the start), weights r + 1.
  const auto run = [&](double z, marl_rec::dist::NoisePlacement placement, std::uint64_t secret = 500) {
    Rng start(3);
    std::vector<float> p(n);
    for (float& x : p) x = static_cast<float>(start.normal());
    VectorModel model(p);
    std::vector<VectorModel*> mine{&model};
    MpiFederatedAveraging averager(comm, {.privacy = {.enabled = true, .clip_norm = 10.0, .noise_multiplier = z},
                                          .seed = 11,
                                          .every_n_updates = 1,
                                          .noise_placement = placement});
    averager.set_noise_secret(secret + static_cast<std::uint64_t>(comm.rank()) * 7919);
    averager.broadcast(mine);
    for (float& x : p) x += 0.001f * static_cast<float>(comm.rank() + 1);
    model.set_shared_parameters(p);
    const std::vector<double> weight{static_cast<double>(comm.rank() + 1)};
    averager.average(mine, weight);
    CHECK_FALSE(averager.last_round().resynchronised);
    return std::pair{std::vector<float>(averager.global_parameters().begin(), averager.global_parameters().end()),
                     averager.last_round().noise_std};
  };
  using marl_rec::dist::NoisePlacement;
  // (Plain variables, not structured bindings: clang 14 cannot capture those in a lambda.)
  const auto noise_free = run(0.0, NoisePlacement::before_reduce);
  const std::vector<float>& exact = noise_free.first;
  CHECK(noise_free.second == 0.0);
  // z = 0: no noise, either placement: the same bits.
  CHECK(exact == run(0.0, NoisePlacement::after_reduce).first);
  const auto noised_before = run(2.0, NoisePlacement::before_reduce);
  const std::vector<float>& before = noised_before.first;
  const double sigma = noised_before.second;
  const auto [after, sigma_after] = run(2.0, NoisePlacement::after_reduce);
  // σ = z C max w / W; C = 10 is above every update (norm 0.001 (r + 1) √n ≤ 0.6 at 4 ranks),
  // so nothing is clipped.
  const double ranks = static_cast<double>(comm.size());
  CHECK(sigma == doctest::Approx(2.0 * 10.0 * ranks / (ranks * (ranks + 1) / 2)).epsilon(1e-12));
  CHECK(sigma_after == sigma);
  // The noise on the mean (η = 1): the difference from the noise-free round, standardised.
  const auto moments = [&](const std::vector<float>& noised) {
    double sum = 0.0, squares = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      const double e = (static_cast<double>(noised[k]) - static_cast<double>(exact[k])) / sigma;
      sum += e;
      squares += e * e;
    }
    const double mean = sum / static_cast<double>(n);
    return std::pair{mean, std::sqrt(squares / static_cast<double>(n) - mean * mean)};
  };
  const auto [mean_before, sd_before] = moments(before);
  const auto [mean_after, sd_after] = moments(after);
  // Standard errors with n = 20000: 0.007 for the mean, 0.005 for the spread.
  CHECK(std::abs(mean_before) < 0.03);
  CHECK(sd_before == doctest::Approx(1.0).epsilon(0.025));
  CHECK(std::abs(mean_after) < 0.03);
  CHECK(sd_after == doctest::Approx(1.0).epsilon(0.025));
  // Other numbers than after the reduce (each rank's own stream), the same on a rerun and on
  // every rank.
  CHECK(before != after);
  CHECK(before == run(2.0, NoisePlacement::before_reduce).first);
  CHECK(same_on_every_rank(comm, before));
  // The shares come from each rank's own secret, not from the shared seed.
  CHECK(before != run(2.0, NoisePlacement::before_reduce, 501).first);

  // Without its secret a rank refuses the round, and so does every other rank.
  {
    VectorModel model(std::vector<float>(4, 1.0f));
    std::vector<VectorModel*> mine{&model};
    MpiFederatedAveraging averager(comm, {.privacy = {.enabled = true, .noise_multiplier = 1.0},
                                          .noise_placement = NoisePlacement::before_reduce});
    if (comm.rank() != 0) averager.set_noise_secret(9);
    averager.broadcast(mine);
    const std::vector<double> weight{1.0};
    const std::string message = error_of([&] { averager.average(mine, weight); });
    CHECK(message.find(comm.rank() == 0 ? "noise before the reduce needs this rank's own secret"
                                        : "rank 0 rejected the call") != std::string::npos);
    CHECK(averager.rounds() == 0);
  }

  // The placement and this rank's secret are saved and loaded with the rest; a stream of the
  // other placement is refused.
  MpiFederatedAveraging saved(comm, {.noise_placement = NoisePlacement::before_reduce});
  saved.set_noise_secret(40 + static_cast<std::uint64_t>(comm.rank()));
  std::stringstream stream;
  saved.save(stream);
  const std::string bytes = stream.str();
  MpiFederatedAveraging loaded(comm, {.noise_placement = NoisePlacement::before_reduce});
  CHECK_FALSE(loaded.has_noise_secret());
  loaded.load(stream);
  CHECK(loaded.config().noise_placement == NoisePlacement::before_reduce);
  CHECK(loaded.has_noise_secret());
  std::stringstream again;
  loaded.save(again);
  CHECK(again.str() == bytes);
  MpiFederatedAveraging other_placement(comm);
  std::istringstream in(bytes);
  CHECK(error_of([&] { other_placement.load(in); }).find("noise placement (before_reduce) is not this averager's (after_reduce)") !=
        std::string::npos);
  CHECK(error_of([&] {
          MpiFederatedAveraging(comm, {.noise_placement = static_cast<NoisePlacement>(2)});
        }).find("noise_placement 2 is not") != std::string::npos);
}

TEST_CASE("MpiFederatedAveraging reads format v1 (before noise_placement): after the reduce, no secret") {
  const Communicator comm(MPI_COMM_WORLD);
  // A v1 stream as the first version wrote it: the fields of v2 without noise_placement and the
  // secret.
  std::stringstream v1;
  {
    marl_rec::io::ModelWriter w(v1, "mpi_federated_averaging", 1);
    w.u64("privacy_enabled", 1);
    w.f64("clip_norm", 0.5);
    w.f64("noise_multiplier", 1.25);
    w.f64("delta", 1e-6);
    w.u64("seed", 9);
    w.f64("server_learning_rate", 1.0);
    w.u64("every_n_updates", 3);
    w.u64("rounds", 1);
    w.u64("updates", 3);
    w.u64("has_global", 1);
    const std::vector<float> global{0.5f, -1.0f};
    w.u64("global_size", global.size());
    w.floats("global", global);
    marl_rec::RdpAccountant accountant;
    accountant.add_gaussian(1.25);
    w.object("accountant", accountant);
    w.finish();
  }
  MpiFederatedAveraging loaded(comm);
  loaded.load(v1);
  CHECK(loaded.config().noise_placement == marl_rec::dist::NoisePlacement::after_reduce);
  CHECK_FALSE(loaded.has_noise_secret());
  CHECK(loaded.config().privacy.noise_multiplier == 1.25);
  CHECK(loaded.rounds() == 1);
  CHECK(loaded.updates() == 3);
  CHECK(std::vector<float>(loaded.global_parameters().begin(), loaded.global_parameters().end()) ==
        std::vector<float>{0.5f, -1.0f});
}

TEST_CASE("MpiFederatedAveraging equals in-process FederatedAveraging on MatrixFactorization agents") {
  const Communicator comm(MPI_COMM_WORLD);
  const auto contiguous = [&](std::size_t a) {
    return static_cast<int>(a * static_cast<std::size_t>(comm.size()) / agents);
  };
  compare_with_in_process<marl_rec::MatrixFactorization>(comm, {}, 4, contiguous);
  marl_rec::FederatedAveragingConfig config;
  config.privacy = {.enabled = true, .clip_norm = 0.05, .noise_multiplier = 1.1, .delta = 1e-6};
  compare_with_in_process<marl_rec::MatrixFactorization>(comm, config, 3, contiguous);
}

TEST_CASE("MpiFederatedAveraging::step runs a round every every_n_updates calls") {
  const Communicator comm(MPI_COMM_WORLD);
  std::vector<VectorModel> models = fresh(1, VectorModel{});
  std::vector<VectorModel*> ptrs = pointers(models);
  MpiFederatedAveraging fed(comm, {.every_n_updates = 3});
  fed.broadcast(ptrs);
  std::vector<bool> rounds;
  const std::vector<double> weights = {1.0};
  for (std::size_t s = 0; s < 7; ++s) {
    train(models[0], static_cast<std::size_t>(comm.rank()), s, 2);
    rounds.push_back(fed.step(ptrs, weights));
  }
  CHECK(rounds == std::vector<bool>{false, false, true, false, false, true, false});
  CHECK(fed.rounds() == 2);
  CHECK(fed.updates() == 7);
  // The step after the last round left the model off the global parameters; the next round's
  // global parameters are the same on every rank.
  CHECK(same_on_every_rank(comm, fed.global_parameters()));
}

TEST_CASE("MpiFederatedAveraging: save / load continues exactly, and ranks loading different rounds is an Error") {
  const Communicator comm(MPI_COMM_WORLD);
  marl_rec::dist::MpiFederatedAveragingConfig config;
  config.privacy = {.enabled = true, .clip_norm = 0.2, .noise_multiplier = 0.9, .delta = 1e-5};
  config.every_n_updates = 2;
  std::vector<VectorModel> models = fresh(2, VectorModel{});
  std::vector<VectorModel*> ptrs = pointers(models);
  MpiFederatedAveraging fed(comm, config);
  fed.broadcast(ptrs);
  const std::vector<double> weights = {2.0, 1.0};
  const auto run = [&](MpiFederatedAveraging& f, std::vector<VectorModel>& ms, std::size_t from, std::size_t to) {
    std::vector<VectorModel*> ps = pointers(ms);
    for (std::size_t s = from; s < to; ++s) {
      for (std::size_t j = 0; j < ms.size(); ++j) train(ms[j], 2 * static_cast<std::size_t>(comm.rank()) + j, s, 3);
      f.step(ps, weights);
    }
  };
  run(fed, models, 0, 4);  // two rounds
  std::stringstream saved;
  fed.save(saved);
  for (const VectorModel& m : models) m.save(saved);
  run(fed, models, 4, 10);

  MpiFederatedAveraging restored(comm, {});
  std::vector<VectorModel> restored_models(2);
  restored.load(saved);
  for (VectorModel& m : restored_models) m.load(saved);
  CHECK(restored.rounds() == 2);
  CHECK(restored.updates() == 4);
  CHECK(restored.config().every_n_updates == 2);
  CHECK(restored.accountant().steps() == 2);
  run(restored, restored_models, 4, 10);
  CHECK(restored.rounds() == fed.rounds());
  const std::span<const float> a = restored.global_parameters(), b = fed.global_parameters();
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  CHECK(restored.epsilon() == fed.epsilon());

  // The last rank loads the state of round 5, the others of round 2.
  std::stringstream older, newer;
  restored.save(newer);
  saved.seekg(0);
  older << saved.rdbuf();
  const int last = comm.size() - 1;
  MpiFederatedAveraging target(comm, {});
  const std::string e = error_of([&] { target.load(comm.rank() == last ? newer : older); });
  if (comm.size() > 1) {
    CHECK(e.rfind("dist::MpiFederatedAveraging::load: the ranks loaded different states (rank ", 0) == 0);
    CHECK(target.rounds() == 0);
  } else {
    CHECK(e == "no error");
  }
  // A corrupted stream on one rank: every rank throws, the faulty one naming the problem.
  std::stringstream bad("not a model stream at all");
  older.seekg(0);
  MpiFederatedAveraging target2(comm, {});
  const std::string e2 = error_of([&] { target2.load(comm.rank() == last ? bad : older); });
  if (comm.rank() == last) {
    CHECK(e2.rfind("rank " + std::to_string(last) + ": ", 0) == 0);
  } else {
    CHECK(e2.rfind("dist::MpiFederatedAveraging::load: rank " + std::to_string(last) + " rejected the call", 0) == 0);
  }
  CHECK_FALSE(target2.has_global());
}

TEST_CASE("MpiFederatedAveraging: bad arguments on one rank are an Error on every rank, changing nothing") {
  const Communicator comm(MPI_COMM_WORLD);
  const int last = comm.size() - 1;
  const std::string last_s = std::to_string(last);
  std::vector<VectorModel> models = fresh(2, VectorModel{});
  std::vector<VectorModel*> ptrs = pointers(models);
  MpiFederatedAveraging fed(comm, {});
  const std::vector<double> weights = {1.0, 1.0};
  CHECK(error_of([&] { fed.average(ptrs, weights); }) ==
        "dist::MpiFederatedAveraging::average: each agent's update is measured from the global parameters: "
        "call broadcast(models) on the initial models first");
  fed.broadcast(ptrs);
  const std::vector<float> before(fed.global_parameters().begin(), fed.global_parameters().end());
  train(models[0], 3, 0, 5);
  const auto expect = [&](const std::string& e, const std::string& faulty_message) {
    if (comm.rank() == last) {
      CHECK(e == faulty_message);
    } else {
      CHECK(e == "dist::MpiFederatedAveraging::average: rank " + last_s + " rejected the call (its error: " +
                     faulty_message + ")");
    }
  };
  const std::vector<double> negative = {1.0, -2.0};
  expect(error_of([&] { fed.average(ptrs, comm.rank() == last ? negative : weights); }),
         "dist::MpiFederatedAveraging::average: rank " + last_s + ", model 1: weight -2.000000 is not finite and >= 0");
  const std::vector<double> one = {1.0};
  expect(error_of([&] { fed.average(ptrs, comm.rank() == last ? one : weights); }),
         "dist::MpiFederatedAveraging::average: rank " + last_s + " passes 1 weights for 2 models");
  std::vector<VectorModel> other = {VectorModel(std::vector<float>(3, 0.0f))};
  std::vector<VectorModel*> wrong = {&models[0], &other[0]};
  expect(error_of([&] { fed.average(comm.rank() == last ? wrong : ptrs, weights); }),
         "dist::MpiFederatedAveraging::average: rank " + last_s +
             ", model 1 has 3 shared parameters, the global parameters has 40");
  std::vector<VectorModel*> null = {&models[0], nullptr};
  expect(error_of([&] { fed.average(comm.rank() == last ? null : ptrs, weights); }),
         "dist::MpiFederatedAveraging::average: rank " + last_s + ", model 1 is a null pointer");
  const std::vector<double> zeros = {0.0, 0.0};
  CHECK(error_of([&] { fed.average(ptrs, zeros); }) ==
        "dist::MpiFederatedAveraging::average: the weights of all ranks sum to 0.000000 (they must not all be 0, "
        "and their sum must be finite)");
  CHECK(fed.rounds() == 0);
  CHECK(std::equal(before.begin(), before.end(), fed.global_parameters().begin(), fed.global_parameters().end()));
  // Still usable: a good round works.
  CHECK(error_of([&] { fed.average(ptrs, weights); }) == "no error");
  CHECK(fed.rounds() == 1);

  CHECK(error_of([&] { MpiFederatedAveraging bad(comm, {.every_n_updates = 0}); }) ==
        "dist::MpiFederatedAveraging: config.every_n_updates must be at least 1");
  CHECK(error_of([&] {
          MpiFederatedAveraging bad(comm, {.privacy = {.clip_norm = -1.0}});
        }) == "dist::MpiFederatedAveraging: config.privacy.clip_norm -1.000000 is not finite and > 0");
  // broadcast(): rank 0 must own a model.
  std::vector<VectorModel*> none;
  MpiFederatedAveraging fresh_fed(comm, {});
  const std::string e = error_of([&] { fresh_fed.broadcast(comm.rank() == 0 ? none : ptrs); });
  if (comm.rank() == 0) {
    CHECK(e == "dist::MpiFederatedAveraging::broadcast: rank 0 owns no model (the parameters come from its first)");
  } else {
    CHECK(e.rfind("dist::MpiFederatedAveraging::broadcast: rank 0 rejected the call", 0) == 0);
  }
  CHECK_FALSE(fresh_fed.has_global());
}
