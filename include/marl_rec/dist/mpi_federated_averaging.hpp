// marl_rec — federated averaging with the agents on different MPI ranks: the round of
// coord::FederatedAveraging (weighted mean of the shared parameters, optional agent-level
// differential privacy, server learning rate) computed with MPI_Allreduce, on a cadence of local
// updates. Each rank owns any number of local models (FederatedModel: shared parameters as one
// contiguous span); after a round every model on every rank holds the same global parameters.
//
// Needs MPI (see dist/communicator.hpp).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mpi.h>

#include "marl_rec/concepts/federated_model.hpp"
#include "marl_rec/coord/federated_averaging.hpp"
#include "marl_rec/coord/privacy_accountant.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/io/model_stream.hpp"

namespace marl_rec::dist {

/// Where MpiFederatedAveraging adds the Gaussian noise of a private round.
enum class NoisePlacement : std::uint8_t {
  /// After the reduce: every rank draws the same noise N(0, σ² I) for the mean from (seed,
  /// round), exactly the in-process FederatedAveraging's noise, so results match the in-process
  /// policy. The reduced sums are noise-free: the ranks must trust one another.
  after_reduce,
  /// Before the reduce: each of the R ranks adds its own share N(0, (σ W)² / R · I) to its local
  /// sum of weighted updates (W = Σ wᵢ), drawn from (that rank's secret, round) — a secret each
  /// rank sets itself (MpiFederatedAveraging::set_noise_secret), never the shared seed, which
  /// would let any rank regenerate and subtract the others' shares — so the reduced sum carries
  /// noise N(0, (σ W)² I), i.e. the mean carries N(0, σ² I): the same distribution as
  /// after_reduce, not the same numbers. See MpiFederatedAveraging on what this protects.
  before_reduce,
};

/// The settings of MpiFederatedAveraging (checked by its constructor).
struct MpiFederatedAveragingConfig {
  /// Agent-level differential privacy, as FederatedAveragingConfig::Privacy (clip_norm C,
  /// noise_multiplier z, delta δ).
  FederatedAveragingConfig::Privacy privacy{};
  /// Seeds the noise; the noise of a round is the in-process FederatedAveraging's for the same
  /// seed and round number.
  std::uint64_t seed = 1;
  /// η, the server's step (finite, > 0), as FederatedAveragingConfig::server_learning_rate.
  double server_learning_rate = 1.0;
  /// The cadence (≥ 1): step() runs a round every this many calls.
  std::uint64_t every_n_updates = 1000;
  /// Where the noise of a private round is added (see NoisePlacement).
  NoisePlacement noise_placement = NoisePlacement::after_reduce;
};

/// What the last round of MpiFederatedAveraging did (over all ranks).
struct MpiFederatedRound {
  /// Σ wᵢ over every agent of every rank.
  double total_weight = 0.0;
  /// Agents (on all ranks) whose update was longer than clip_norm; 0 without privacy.
  std::size_t clipped = 0;
  /// The largest L2 norm of an agent's update before clipping; 0 without privacy.
  double max_update_norm = 0.0;
  /// σ, the standard deviation of the noise added to each parameter of the mean update.
  double noise_std = 0.0;
  /// True when the ranks computed different bits from the reduced sums (an MPI_Allreduce that
  /// does not give every rank the same result) and took rank 0's parameters instead.
  bool resynchronised = false;
};

/// Federated averaging across MPI ranks (McMahan et al. 2017; with privacy McMahan et al. 2018),
/// the distributed twin of FederatedAveraging. Every rank constructs one with the same
/// configuration on the same Communicator; broadcast(), average(), step(), save() and load()
/// are collective (every rank calls them in the same order), the other members are local.
///
/// A round, over the agents i of every rank, each with shared parameters pᵢ and weight wᵢ (the
/// examples it learned from since the last round; ≥ 0, finite, not all 0):
///   Δᵢ = pᵢ − g, measured from the global parameters g of the previous round or broadcast();
///   with privacy, Δᵢ ← Δᵢ · min(1, C / ‖Δᵢ‖) (each agent's update clipped to L2 norm C);
///   g ← g + η · (Σ wᵢ Δᵢ / Σ wᵢ + N(0, σ² I)), σ = z · C · max wᵢ / Σ wᵢ with privacy, else 0.
/// Each rank sums its own agents' wᵢ Δᵢ (in double), one MPI_Allreduce(SUM) adds the ranks'
/// sums with Σ wᵢ and the clip count, one MPI_Allreduce(MAX) gives max wᵢ and the largest
/// update norm, and every rank computes the new g itself. This is FederatedAveraging's round:
/// with privacy or η ≠ 1 its formula exactly; without, FederatedAveraging measures the updates
/// from agent 0 instead of g, which is the same mean (g + Σ wᵢ(pᵢ − g)/W = p₀ + Σ wᵢ(pᵢ − p₀)/W)
/// rounded differently. Results agree with the in-process policy to float rounding (the double
/// sums are added in another order), not bit for bit.
///
/// The noise (config.noise_placement). By default (after_reduce) every rank draws the same noise
/// itself, from an Rng seeded by (seed, round number) exactly as FederatedAveraging does, so
/// nothing is sent for it and the noise equals the in-process policy's for the same seed and
/// round; the ranks then see each other's summed updates before noise, so they must trust one
/// another (the noise protects what leaves the job: the global parameters), as the server does
/// in process. With before_reduce each rank adds its share of the noise, drawn from its own
/// secret (set_noise_secret, required), to its own sum before the MPI_Allreduce (the MAX reduce
/// that σ needs runs first), so what travels between ranks is already noised. Against an
/// observer outside the job the result carries noise of multiplier z. A rank knows its own
/// share and can subtract it: to it, the other ranks' updates carry multiplier z·√((R − 1)/R)
/// (z/√2 at 2 ranks); a single rank's contribution, should another rank observe it inside the
/// reduction, carries z/√R only (hiding it too needs secure aggregation, which MPI does not
/// offer). Whoever holds a rank's secret — it is in that rank's saved state, as the shared seed is
/// in every rank's — can remove that rank's share: protect checkpoints accordingly. Either way
/// the round releases the mean with noise N(0, σ² I), so the accounting is the
/// in-process accounting (one Gaussian step of noise multiplier z per round, or an unbounded step
/// without noise), kept identically on every rank (rank 0's is the one to report). The guarantee
/// is FederatedAveraging's (agent-level, weights treated as public).
///
/// Identical replicas. MPI does not promise that MPI_Allreduce gives every rank the same bits
/// (Open MPI's algorithms do); a round hashes the new parameters and compares the hashes (one
/// small MPI_Allreduce) and, should they differ, every rank takes rank 0's (MPI_Bcast). So
/// after every round all models on all ranks hold bit-identical shared parameters.
///
/// Errors. Bad arguments on any rank (wrong counts or sizes, invalid weights, null models, a
/// round before broadcast()) are agreed on first (dist::agree): every rank throws, the faulty
/// rank with the details, and nothing changes. A failed MPI call throws Error naming the call
/// and rank (the job is then normally aborted: see docs/distributed.md on failures). Not
/// thread-safe; the models must not be in use by other threads during a collective call.
class MpiFederatedAveraging {
 public:
  using Config = MpiFederatedAveragingConfig;

  /// An averager over `comm` (which must outlive it) with `config`. Local (no MPI call).
  /// Throws Error when clip_norm is not finite and > 0, noise_multiplier not finite and ≥ 0,
  /// delta not in (0, 1), server_learning_rate not finite and > 0, every_n_updates is 0, or
  /// noise_placement is not one of NoisePlacement's values.
  explicit MpiFederatedAveraging(const Communicator& comm, Config config = {})
      : comm_(&comm), config_(checked(config, "dist::MpiFederatedAveraging")) {}

  /// The configuration.
  const Config& config() const noexcept { return config_; }
  /// Rounds averaged so far.
  std::uint64_t rounds() const noexcept { return rounds_; }
  /// Calls of step() so far (the cadence's clock).
  std::uint64_t updates() const noexcept { return updates_; }
  /// The privacy spent, one step per round (the same on every rank).
  const RdpAccountant& accountant() const noexcept { return accountant_; }
  /// accountant().epsilon(config().privacy.delta).
  double epsilon() const { return accountant_.epsilon(config_.privacy.delta); }
  /// True once broadcast(), a round or load() has set the global parameters.
  bool has_global() const noexcept { return has_global_; }
  /// The global parameters g (the same bits on every rank; empty before broadcast()).
  std::span<const float> global_parameters() const noexcept { return global_; }
  /// What the last round did.
  const MpiFederatedRound& last_round() const noexcept { return last_round_; }

  /// Local: sets this rank's secret for its share of the noise with NoisePlacement::before_reduce
  /// (required there; each rank its own, e.g. from std::random_device — a value the other ranks
  /// cannot guess; a fixed value gives reproducible runs). Saved and loaded with this rank's state.
  void set_noise_secret(std::uint64_t secret) noexcept { noise_secret_ = secret; }
  /// Whether set_noise_secret() (or a load of a state that had one) has set the secret.
  bool has_noise_secret() const noexcept { return noise_secret_.has_value(); }

  /// Collective: sets every model on every rank to the shared parameters of rank 0's first model
  /// (rank 0 must own at least one; other ranks may own none), which become g. Call it on
  /// freshly initialised models, before training (it is not accounted for). Throws Error on
  /// every rank, changing nothing, when rank 0 owns no model or one with a non-finite parameter,
  /// or a model on any rank is null or has another parameter count.
  template <FederatedModel M>
  void broadcast(std::span<M* const> models) {
    constexpr const char* where = "dist::MpiFederatedAveraging::broadcast";
    std::string error = local_model_error(where, models);
    std::uint64_t size = 0;
    if (error.empty() && comm_->rank() == 0) {
      if (models.empty()) {
        error = std::string(where) + ": rank 0 owns no model (the parameters come from its first)";
      } else {
        const std::span<const float> first = models[0]->shared_parameters();
        size = first.size();
        for (std::size_t k = 0; k < first.size() && error.empty(); ++k) {
          if (!std::isfinite(first[k])) {
            error = std::string(where) + ": rank 0's first model's shared parameter " +
                    std::to_string(k) + " is not finite";
          }
        }
      }
    }
    agree(*comm_, where, error);
    comm_->check(MPI_Bcast(&size, 1, MPI_UINT64_T, 0, comm_->get()), where, "MPI_Bcast");
    agree(*comm_, where, size_error(where, models, static_cast<std::size_t>(size), "rank 0's first model"));
    std::vector<float> global(static_cast<std::size_t>(size));
    if (comm_->rank() == 0 && size > 0) {
      const std::span<const float> first = models[0]->shared_parameters();
      std::copy(first.begin(), first.end(), global.begin());
    }
    broadcast_floats(where, global);
    for (M* model : models) model->set_shared_parameters(global);
    global_ = std::move(global);
    has_global_ = true;
  }

  /// broadcast() on a vector of model pointers.
  template <FederatedModel M>
  void broadcast(const std::vector<M*>& models) {
    broadcast(std::span<M* const>(models));
  }

  /// Collective: one round (see the class comment) over this rank's `models`, weights[i] being
  /// models[i]'s weight, and every other rank's; writes the new g to every model on every rank.
  /// A rank may own no model (empty spans). Throws Error on every rank, changing nothing, when
  /// on any rank a model is null or its size differs from g's, weights.size() != models.size(),
  /// or a weight is negative or not finite; when broadcast() has not come first; when the
  /// weights of all ranks sum to 0 or overflow; or when the new parameters are not finite.
  template <FederatedModel M>
  void average(std::span<M* const> models, std::span<const double> weights) {
    constexpr const char* where = "dist::MpiFederatedAveraging::average";
    std::string error;
    if (!has_global_) {
      // The same on every rank (the state is replicated), so no rank waits for another here.
      throw Error(std::string(where) +
                  ": each agent's update is measured from the global parameters: call "
                  "broadcast(models) on the initial models first");
    }
    error = local_model_error(where, models);
    if (error.empty()) error = size_error(where, models, global_.size(), "the global parameters");
    if (error.empty() && weights.size() != models.size()) {
      error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + " passes " +
              std::to_string(weights.size()) + " weights for " + std::to_string(models.size()) +
              " models";
    }
    for (std::size_t i = 0; i < weights.size() && error.empty(); ++i) {
      if (!(std::isfinite(weights[i]) && weights[i] >= 0.0)) {
        error = std::string(where) + ": rank " + std::to_string(comm_->rank()) + ", model " +
                std::to_string(i) + ": weight " + std::to_string(weights[i]) +
                " is not finite and >= 0";
      }
    }
    if (error.empty() && config_.privacy.enabled && config_.privacy.noise_multiplier > 0.0 &&
        config_.noise_placement == NoisePlacement::before_reduce && !noise_secret_) {
      error = std::string(where) + ": rank " + std::to_string(comm_->rank()) +
              ": noise before the reduce needs this rank's own secret (set_noise_secret, e.g. from "
              "std::random_device): from the shared seed any rank could regenerate and subtract the "
              "others' noise";
    }
    agree(*comm_, where, error);

    const std::size_t n = global_.size();
    const bool private_round = config_.privacy.enabled;
    const double clip = config_.privacy.clip_norm;
    // sums_ = [Σ wᵢ sᵢ Δᵢ (n values), Σ wᵢ, clipped count]; maxima = [max wᵢ, max ‖Δᵢ‖].
    sums_.assign(n + 2, 0.0);
    double maxima[2] = {0.0, 0.0};
    for (std::size_t i = 0; i < models.size(); ++i) {
      const std::span<const float> p = models[i]->shared_parameters();
      double scale = 1.0;
      if (private_round) {
        double squares = 0.0;
        for (std::size_t k = 0; k < n; ++k) {
          const double d = static_cast<double>(p[k]) - static_cast<double>(global_[k]);
          squares += d * d;
        }
        const double norm = std::sqrt(squares);
        maxima[1] = std::max(maxima[1], norm);
        if (norm > clip) {
          scale = clip / norm;
          sums_[n + 1] += 1.0;
        }
      }
      sums_[n] += weights[i];
      maxima[0] = std::max(maxima[0], weights[i]);
      if (weights[i] == 0.0) continue;
      const double factor = weights[i] * scale;
      for (std::size_t k = 0; k < n; ++k) {
        sums_[k] += factor * (static_cast<double>(p[k]) - static_cast<double>(global_[k]));
      }
    }
    // max wᵢ first: the noise before the reduce needs σ W = z C max wᵢ.
    allreduce_doubles(where, maxima, 2, MPI_MAX);
    const bool noise_before = private_round && config_.privacy.noise_multiplier > 0.0 &&
                              config_.noise_placement == NoisePlacement::before_reduce;
    if (noise_before) {
      const double share = config_.privacy.noise_multiplier * clip * maxima[0] /
                           std::sqrt(static_cast<double>(comm_->size()));
      Rng rng(rank_noise_seed(*noise_secret_, rounds_, comm_->rank()));
      for (std::size_t k = 0; k < n; ++k) sums_[k] += share * rng.normal();
    }
    allreduce_doubles(where, sums_.data(), sums_.size(), MPI_SUM);
    const double total = sums_[n];
    if (!(total > 0.0 && std::isfinite(total))) {
      // Every rank holds the same reduced total (checked below for the parameters; a total
      // that differs in its last bits cannot differ in being 0 or infinite).
      throw Error(std::string(where) + ": the weights of all ranks sum to " + std::to_string(total) +
                  " (they must not all be 0, and their sum must be finite)");
    }

    MpiFederatedRound report;
    report.total_weight = total;
    if (private_round) {
      report.clipped = static_cast<std::size_t>(sums_[n + 1]);
      report.max_update_norm = maxima[1];
      report.noise_std = config_.privacy.noise_multiplier * clip * maxima[0] / total;
    }
    const double eta = config_.server_learning_rate;
    next_.resize(n);
    if (report.noise_std > 0.0 && !noise_before) {
      Rng rng(marl_rec::detail::federated_noise_seed(config_.seed, rounds_));
      for (std::size_t k = 0; k < n; ++k) {
        const double noise = report.noise_std * rng.normal();
        next_[k] = static_cast<float>(static_cast<double>(global_[k]) + eta * (sums_[k] / total + noise));
      }
    } else {
      // (+ 0.0: the noise-free sum FederatedAveraging computes, bit for bit; the loop vectorises.
      // With noise before the reduce, the sums carry it already.)
      for (std::size_t k = 0; k < n; ++k) {
        next_[k] = static_cast<float>(static_cast<double>(global_[k]) + eta * (sums_[k] / total + 0.0));
      }
    }
    report.resynchronised = make_identical(where, next_);
    std::string bad;
    for (std::size_t k = 0; k < n && bad.empty(); ++k) {
      if (!std::isfinite(next_[k])) {
        bad = std::string(where) + ": the averaged parameter " + std::to_string(k) +
              " is not finite (an agent's parameters, or the noise, are too large)";
      }
    }
    // next_ is the same on every rank now, so every rank throws here or none does.
    if (!bad.empty()) throw Error(bad);
    for (M* model : models) model->set_shared_parameters(next_);
    global_.assign(next_.begin(), next_.end());
    ++rounds_;
    if (private_round && config_.privacy.noise_multiplier > 0.0) {
      accountant_.add_gaussian(config_.privacy.noise_multiplier);
    } else {
      accountant_.add_unbounded();
    }
    last_round_ = report;
  }

  /// average() on a vector of model pointers.
  template <FederatedModel M>
  void average(const std::vector<M*>& models, std::span<const double> weights) {
    average(std::span<M* const>(models), weights);
  }

  /// Collective, the cadence: counts one update (every rank calls it once per update step, in
  /// lockstep: the same number of calls on every rank) and, on every config.every_n_updates-th
  /// call, runs average(models, weights) and returns true; otherwise returns false without any
  /// MPI call. `weights` are then what average() takes (the examples each model learned since
  /// the last round; the caller resets its counts when step() returns true). Throws what
  /// average() throws (the update is counted all the same).
  template <FederatedModel M>
  bool step(std::span<M* const> models, std::span<const double> weights) {
    ++updates_;
    if (updates_ % config_.every_n_updates != 0) return false;
    average(models, weights);
    return true;
  }

  /// step() on a vector of model pointers.
  template <FederatedModel M>
  bool step(const std::vector<M*>& models, std::span<const double> weights) {
    return step(std::span<M* const>(models), weights);
  }

  /// Writes the configuration, the round and update counts, the global parameters and the
  /// accountant (a nested stream), as one stream (format "mpi_federated_averaging" v2, which adds
  /// noise_placement and this rank's noise secret, if set, to v1; load() reads both, v1 as
  /// after_reduce without a secret; so io::save_file / load_file take it, or a container's
  /// nested field). Local: each rank writes its own copy (the same on every rank but for the
  /// secret), normally in one checkpoint file with its own models (see docs/distributed.md).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, model_type, 2);
    w.u64("privacy_enabled", config_.privacy.enabled ? 1 : 0);
    w.f64("clip_norm", config_.privacy.clip_norm);
    w.f64("noise_multiplier", config_.privacy.noise_multiplier);
    w.f64("delta", config_.privacy.delta);
    w.u64("seed", config_.seed);
    w.f64("server_learning_rate", config_.server_learning_rate);
    w.u64("every_n_updates", config_.every_n_updates);
    w.u64("noise_placement", static_cast<std::uint64_t>(config_.noise_placement));
    w.u64("has_noise_secret", noise_secret_ ? 1 : 0);
    w.u64("noise_secret", noise_secret_.value_or(0));
    w.u64("rounds", rounds_);
    w.u64("updates", updates_);
    w.u64("has_global", has_global_ ? 1 : 0);
    w.u64("global_size", global_.size());
    w.floats("global", global_);
    w.object("accountant", accountant_);
    w.finish();
  }

  /// Collective: replaces everything with what save() wrote, then checks that every rank
  /// loaded the same state (configuration, counts, global parameters). Throws Error on every
  /// rank, changing nothing, when any rank's stream is of another type, truncated, corrupted
  /// or invalid (that rank's message names the problem), when the ranks' states differ
  /// (checkpoints of different rounds; the noise secrets are each rank's own and not compared),
  /// or when the stream's noise placement is not this averager's (a state saved with the noise
  /// after the reduce must not silently switch an averager built for before_reduce, or back).
  void load(std::istream& in) {
    constexpr const char* where = "dist::MpiFederatedAveraging::load";
    Loaded loaded;
    std::string error;
    try {
      loaded = read(in, where);
    } catch (const std::exception& e) {  // any local failure (bad_alloc too) is agreed, not left
      error = "rank " + std::to_string(comm_->rank()) + ": " + e.what();
    }
    if (error.empty() && loaded.config.noise_placement != config_.noise_placement) {
      error = std::string(where) + ": rank " + std::to_string(comm_->rank()) +
              ": the stream's noise placement (" + placement_name(loaded.config.noise_placement) +
              ") is not this averager's (" + placement_name(config_.noise_placement) + ")";
    }
    agree(*comm_, where, error);
    const std::uint64_t fingerprint = loaded.fingerprint();
    std::uint64_t extremes[2] = {fingerprint, ~fingerprint};  // max of both: max and ~min
    comm_->check(MPI_Allreduce(MPI_IN_PLACE, extremes, 2, MPI_UINT64_T, MPI_MAX, comm_->get()), where,
                 "MPI_Allreduce");
    if (extremes[0] != ~extremes[1]) {
      throw Error(std::string(where) + ": the ranks loaded different states (rank " +
                  std::to_string(comm_->rank()) + ": round " + std::to_string(loaded.rounds) +
                  ", update " + std::to_string(loaded.updates) +
                  "): every rank must load its checkpoint of the same round");
    }
    config_ = loaded.config;
    rounds_ = loaded.rounds;
    updates_ = loaded.updates;
    has_global_ = loaded.has_global;
    global_ = std::move(loaded.global);
    accountant_ = loaded.accountant;
    noise_secret_ = loaded.noise_secret;
    last_round_ = {};
  }

  /// "mpi_federated_averaging".
  std::string_view name() const noexcept { return model_type; }

 private:
  static constexpr const char* model_type = "mpi_federated_averaging";

  struct Loaded {
    Config config{};
    std::uint64_t rounds = 0;
    std::uint64_t updates = 0;
    bool has_global = false;
    std::vector<float> global{};
    RdpAccountant accountant{};
    std::optional<std::uint64_t> noise_secret{};  // this rank's own: not in the fingerprint

    // A 64-bit digest of the whole state, for comparing ranks.
    std::uint64_t fingerprint() const noexcept {
      std::uint64_t h = hash_floats(global);
      const auto mix = [&h](std::uint64_t v) { h = (h ^ v) * 0x100000001B3ull + 0x9E3779B97F4A7C15ull; };
      mix(config.privacy.enabled ? 1 : 0);
      mix(std::bit_cast<std::uint64_t>(config.privacy.clip_norm));
      mix(std::bit_cast<std::uint64_t>(config.privacy.noise_multiplier));
      mix(std::bit_cast<std::uint64_t>(config.privacy.delta));
      mix(config.seed);
      mix(std::bit_cast<std::uint64_t>(config.server_learning_rate));
      mix(config.every_n_updates);
      mix(static_cast<std::uint64_t>(config.noise_placement));
      mix(rounds);
      mix(updates);
      mix(has_global ? 1 : 0);
      mix(accountant.steps());
      return h;
    }
  };

  static Loaded read(std::istream& in, const char* where) {
    io::ModelReader r(in, model_type, 2);
    Loaded l;
    l.config.privacy.enabled = r.u64("privacy_enabled", 0, 1) == 1;
    l.config.privacy.clip_norm = r.f64("clip_norm");
    l.config.privacy.noise_multiplier = r.f64("noise_multiplier");
    l.config.privacy.delta = r.f64("delta");
    l.config.seed = r.u64("seed");
    l.config.server_learning_rate = r.f64("server_learning_rate");
    l.config.every_n_updates = r.u64("every_n_updates");
    if (r.version() >= 2) {
      l.config.noise_placement = static_cast<NoisePlacement>(r.u64("noise_placement", 0, 1));
      const bool has_secret = r.u64("has_noise_secret", 0, 1) == 1;
      const std::uint64_t secret = r.u64("noise_secret");
      if (has_secret) l.noise_secret = secret;
    }
    check(l.config, where);
    l.rounds = r.u64("rounds");
    l.updates = r.u64("updates");
    l.has_global = r.u64("has_global", 0, 1) == 1;
    const auto size = static_cast<std::size_t>(
        r.u64("global_size", 0, l.has_global ? std::uint64_t{1} << 40 : 0));
    l.global = r.floats("global", size);
    for (std::size_t k = 0; k < l.global.size(); ++k) {
      marl_rec::detail::require(std::isfinite(l.global[k]), [&] {
        return std::string(where) + ": global parameter " + std::to_string(k) + " is not finite";
      });
    }
    r.object("accountant", l.accountant);
    r.finish();
    // One accountant step per round, whatever the round was.
    marl_rec::detail::require(l.accountant.steps() == l.rounds, [&] {
      return std::string(where) + ": the accountant holds " + std::to_string(l.accountant.steps()) +
             " steps for " + std::to_string(l.rounds) + " rounds";
    });
    return l;
  }

  static void check(const Config& c, const char* where) {
    const auto fail = [where](const std::string& what) {
      return [where, what] { return std::string(where) + ": config." + what; };
    };
    marl_rec::detail::check_federated_privacy(c.privacy, where);
    marl_rec::detail::require(std::isfinite(c.server_learning_rate) && c.server_learning_rate > 0.0,
                              fail("server_learning_rate " + std::to_string(c.server_learning_rate) +
                                   " is not finite and > 0"));
    marl_rec::detail::require(c.every_n_updates >= 1, fail("every_n_updates must be at least 1"));
    marl_rec::detail::require(c.noise_placement == NoisePlacement::after_reduce ||
                                  c.noise_placement == NoisePlacement::before_reduce,
                              fail("noise_placement " +
                                   std::to_string(static_cast<unsigned>(c.noise_placement)) +
                                   " is not after_reduce or before_reduce"));
  }

  // The seed of `rank`'s share of round `round`'s noise before the reduce, from the rank's own
  // secret (the rank is mixed in too, so equal secrets on two ranks still give two streams).
  static std::uint64_t rank_noise_seed(std::uint64_t secret, std::uint64_t round, int rank) noexcept {
    return marl_rec::detail::federated_noise_seed(
        marl_rec::detail::federated_noise_seed(secret, round) ^ 0xD1B54A32D192ED03ull,
        static_cast<std::uint64_t>(rank));
  }

  static const char* placement_name(NoisePlacement p) noexcept {
    return p == NoisePlacement::before_reduce ? "before_reduce" : "after_reduce";
  }

  static Config checked(const Config& c, const char* where) {
    check(c, where);
    return c;
  }

  // "" or the first null model of this rank.
  template <class M>
  std::string local_model_error(const char* where, std::span<M* const> models) const {
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (models[i] == nullptr) {
        return std::string(where) + ": rank " + std::to_string(comm_->rank()) + ", model " +
               std::to_string(i) + " is a null pointer";
      }
    }
    return {};
  }

  // "" or the first model of this rank whose parameter count is not `size`.
  template <class M>
  std::string size_error(const char* where, std::span<M* const> models, std::size_t size,
                         const char* reference) const {
    for (std::size_t i = 0; i < models.size(); ++i) {
      const std::size_t n = std::span<const float>(models[i]->shared_parameters()).size();
      if (n != size) {
        return std::string(where) + ": rank " + std::to_string(comm_->rank()) + ", model " +
               std::to_string(i) + " has " + std::to_string(n) + " shared parameters, " + reference +
               " has " + std::to_string(size);
      }
    }
    return {};
  }

  // MPI_Allreduce in place, in pieces of at most INT_MAX values (MPI counts are int).
  void allreduce_doubles(const char* where, double* data, std::size_t count, MPI_Op op) const {
    for (std::size_t done = 0; done < count;) {
      const std::size_t piece = std::min(count - done, detail::max_mpi_count);
      comm_->check(MPI_Allreduce(MPI_IN_PLACE, data + done, static_cast<int>(piece), MPI_DOUBLE, op,
                                 comm_->get()),
                   where, "MPI_Allreduce");
      done += piece;
    }
  }

  // MPI_Bcast from rank 0, in pieces of at most INT_MAX values.
  void broadcast_floats(const char* where, std::span<float> values) const {
    for (std::size_t done = 0; done < values.size();) {
      const std::size_t piece = std::min(values.size() - done, detail::max_mpi_count);
      comm_->check(MPI_Bcast(values.data() + done, static_cast<int>(piece), MPI_FLOAT, 0, comm_->get()),
                   where, "MPI_Bcast");
      done += piece;
    }
  }

  // Makes `values` rank 0's on every rank when the ranks' hashes differ; returns whether it had to.
  bool make_identical(const char* where, std::span<float> values) const {
    const std::uint64_t h = hash_floats(values);
    std::uint64_t extremes[2] = {h, ~h};  // the max of both gives the max and (inverted) the min
    comm_->check(MPI_Allreduce(MPI_IN_PLACE, extremes, 2, MPI_UINT64_T, MPI_MAX, comm_->get()), where,
                 "MPI_Allreduce");
    if (extremes[0] == ~extremes[1]) return false;
    broadcast_floats(where, values);
    return true;
  }

  // A 64-bit digest of the bits of `values` (not cryptographic: it compares replicas).
  // Four independent lanes (a single multiply chain would take longer than the allreduce).
  static std::uint64_t hash_floats(std::span<const float> values) noexcept {
    std::uint64_t lanes[4] = {0xCBF29CE484222325ull ^ values.size(), 0x84222325CBF29CE4ull,
                              0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull};
    const auto mix = [](std::uint64_t h, float v) {
      h = (h ^ std::bit_cast<std::uint32_t>(v)) * 0x100000001B3ull;
      return h ^ (h >> 29);
    };
    std::size_t k = 0;
    for (; k + 4 <= values.size(); k += 4) {
      for (std::size_t l = 0; l < 4; ++l) lanes[l] = mix(lanes[l], values[k + l]);
    }
    for (; k < values.size(); ++k) lanes[0] = mix(lanes[0], values[k]);
    std::uint64_t h = lanes[0];
    for (std::size_t l = 1; l < 4; ++l) h = (h ^ lanes[l]) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 31);
  }


  const Communicator* comm_;
  Config config_;
  std::uint64_t rounds_ = 0;
  std::uint64_t updates_ = 0;
  bool has_global_ = false;
  std::vector<float> global_{};
  RdpAccountant accountant_{};
  std::optional<std::uint64_t> noise_secret_{};
  MpiFederatedRound last_round_{};
  // Scratch of average(), grow-only.
  std::vector<float> next_{};
  std::vector<double> sums_{};
};

}  // namespace marl_rec::dist
