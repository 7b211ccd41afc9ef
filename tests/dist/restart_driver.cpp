// The program behind the restart test (tests/dist/restart_test.cmake): federated training of
// MatrixFactorization agents over MPI (two agents per rank, each learning from its own users),
// with a checkpoint of every rank's state (its agents, its copy of the averager) every few
// rounds through dist::CheckpointFiles. With --crash-at-step N one rank kills itself with
// SIGKILL at that step (the job dies, as when a host fails); a run with --resume continues from
// the newest complete checkpoint. Every random draw is a function of (agent, step), so a run
// resumed after a crash must end with exactly the parameters of an uninterrupted run.
//
//   marl_rec_dist_restart_driver --dir D --out F [--steps 60] [--every 4] [--checkpoint-rounds 2]
//                                [--private [--noise-before]] [--resume] [--crash-at-step N --crash-rank R]
// (--noise-before: the noise of private rounds added before the reduce, from each rank's own
// secret, set at a fresh start and restored from the checkpoints on resume)
//
// Rank 0 writes F: the round and update counts, the global parameters (hex floats) and, per
// rank and agent, a digest of the agent's whole saved state (its private user factors too).
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <istream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <mpi.h>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/dist/checkpoint.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/dist/mpi_federated_averaging.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/models/matrix_factorization.hpp"

namespace {

namespace mr = marl_rec;

constexpr std::size_t agents_per_rank = 2;
constexpr std::size_t users_per_agent = 3;
constexpr std::size_t items = 12;

struct Options {
  std::string dir, out;
  std::uint64_t steps = 60, every = 4, checkpoint_rounds = 2;
  bool private_rounds = false, noise_before = false, resume = false;
  std::int64_t crash_at_step = -1;
  int crash_rank = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw mr::Error("restart_driver: " + std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--dir") o.dir = value();
    else if (a == "--out") o.out = value();
    else if (a == "--steps") o.steps = std::stoull(value());
    else if (a == "--every") o.every = std::stoull(value());
    else if (a == "--checkpoint-rounds") o.checkpoint_rounds = std::stoull(value());
    else if (a == "--private") o.private_rounds = true;
    else if (a == "--noise-before") o.noise_before = true;
    else if (a == "--resume") o.resume = true;
    else if (a == "--crash-at-step") o.crash_at_step = std::stoll(value());
    else if (a == "--crash-rank") o.crash_rank = std::stoi(value());
    else throw mr::Error("restart_driver: unknown argument '" + std::string(a) + "'");
  }
  if (o.dir.empty() || o.out.empty()) throw mr::Error("restart_driver: --dir and --out are required");
  return o;
}

// The same fresh model on every rank: every user and item known, factors from a fixed seed.
mr::MatrixFactorization fresh_model(int ranks) {
  mr::Interactions data;
  const std::size_t users = static_cast<std::size_t>(ranks) * agents_per_rank * users_per_agent;
  for (std::size_t u = 0; u < users; ++u) data.users.intern(mr::numbered_id("u", u));
  for (std::size_t i = 0; i < items; ++i) data.items.intern(mr::numbered_id("i", i));
  for (std::size_t u = 0; u < users; ++u) data.rows.push_back({.user = u, .item = u % items});
  mr::MatrixFactorization model({.factors = 4, .epochs = 0, .learning_rate = 0.05f, .init_scale = 0.3f, .seed = 9});
  model.fit(data);
  return model;
}

// Agent `agent`'s examples of step `step`: a function of both alone (so a resumed run redraws
// exactly what the crashed one drew). Agent a learns (a mod 3) + 1 examples a step.
std::size_t train(mr::MatrixFactorization& model, std::size_t agent, std::uint64_t step) {
  mr::Rng rng(0x5EEDull * (agent + 1) + 7919 * step);
  const std::size_t examples = agent % 3 + 1;
  for (std::size_t e = 0; e < examples; ++e) {
    const std::size_t user = agent * users_per_agent + rng.below(users_per_agent);
    const std::size_t item = rng.below(items);
    const bool liked = (user + item) % 4 == 0 ? rng.bernoulli(0.8) : rng.bernoulli(0.1);
    model.update({.user = user}, item, liked ? 1.0 : 0.0);
  }
  return examples;
}

// One rank's whole state, saved as one stream (io::save_file takes one). Its load is collective
// (the averager's is): it parses its own stream first, agrees with the other ranks, and only
// then loads the averager on every rank, so that a damaged file on one rank cannot leave the
// ranks in different collective calls.
struct RankState {
  const mr::dist::Communicator* comm;
  mr::dist::MpiFederatedAveraging* averager;
  std::vector<mr::MatrixFactorization>* models;

  void save(std::ostream& out) const {
    mr::io::ModelWriter w(out, "restart_driver_rank", 1);
    w.object("averager", *averager);
    for (std::size_t j = 0; j < models->size(); ++j) w.object("agent" + std::to_string(j), (*models)[j]);
    w.finish();
  }

  void load(std::istream& in) {
    std::string averager_bytes, error;
    std::vector<mr::MatrixFactorization> loaded = *models;
    try {
      mr::io::ModelReader r(in, "restart_driver_rank", 1);
      averager_bytes = r.stream("averager");
      for (std::size_t j = 0; j < loaded.size(); ++j) r.object("agent" + std::to_string(j), loaded[j]);
      r.finish();
    } catch (const std::exception& e) {  // every local failure is agreed (a collective load)
      error = "rank " + std::to_string(comm->rank()) + ": " + e.what();
    }
    mr::dist::agree(*comm, "restart_driver: loading a checkpoint", error);
    std::istringstream averager_in(averager_bytes);
    averager->load(averager_in);
    // Element by element: the callers' pointers to the agents stay valid.
    for (std::size_t j = 0; j < loaded.size(); ++j) (*models)[j] = std::move(loaded[j]);
  }
};

int run(const Options& o, const mr::dist::Communicator& comm) {
  std::vector<mr::MatrixFactorization> models(agents_per_rank, fresh_model(comm.size()));
  std::vector<mr::MatrixFactorization*> pointers;
  for (auto& m : models) pointers.push_back(&m);
  mr::dist::MpiFederatedAveragingConfig config;
  config.every_n_updates = o.every;
  config.seed = 2024;
  if (o.private_rounds) config.privacy = {.enabled = true, .clip_norm = 0.5, .noise_multiplier = 0.6, .delta = 1e-5};
  if (o.noise_before) config.noise_placement = mr::dist::NoisePlacement::before_reduce;
  mr::dist::MpiFederatedAveraging averager(comm, config);
  mr::dist::CheckpointFiles checkpoints(comm, o.dir);
  RankState state{&comm, &averager, &models};

  const std::optional<std::uint64_t> latest = o.resume ? checkpoints.latest_round() : std::nullopt;
  if (latest) {
    checkpoints.load(*latest, state);
    if (comm.rank() == 0) {
      std::printf("resumed from round %llu (update %llu)\n", static_cast<unsigned long long>(averager.rounds()),
                  static_cast<unsigned long long>(averager.updates()));
    }
  } else {
    // Only a fresh start sets the secret: a resumed run must get it back from its checkpoint.
    if (o.noise_before) averager.set_noise_secret(0x5EC2E7ull + 7919ull * static_cast<std::uint64_t>(comm.rank()));
    averager.broadcast(pointers);
    if (comm.rank() == 0) std::printf("fresh start\n");
  }
  // Examples learned since the last round: always 0 at a checkpoint (taken right after a round).
  std::vector<double> weights(agents_per_rank, 0.0);
  for (std::uint64_t step = averager.updates(); step < o.steps; ++step) {
    if (o.crash_at_step >= 0 && step == static_cast<std::uint64_t>(o.crash_at_step) && comm.rank() == o.crash_rank) {
      std::fprintf(stderr, "rank %d: killing itself at step %llu\n", comm.rank(), static_cast<unsigned long long>(step));
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
    for (std::size_t j = 0; j < agents_per_rank; ++j) {
      const std::size_t agent = static_cast<std::size_t>(comm.rank()) * agents_per_rank + j;
      weights[j] += static_cast<double>(train(models[j], agent, step));
    }
    if (averager.step(pointers, weights)) {
      std::fill(weights.begin(), weights.end(), 0.0);
      if (averager.rounds() % o.checkpoint_rounds == 0) checkpoints.save(averager.rounds(), state);
    }
  }

  // Digests of every agent's whole state, gathered on rank 0.
  std::vector<std::uint64_t> digests;
  for (const auto& m : models) {
    std::ostringstream bytes;
    m.save(bytes);
    std::uint64_t h = 1469598103934665603ull;
    for (const char c : bytes.view()) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    digests.push_back(h);
  }
  std::vector<std::uint64_t> all(digests.size() * static_cast<std::size_t>(comm.size()));
  comm.check(MPI_Gather(digests.data(), static_cast<int>(digests.size()), MPI_UINT64_T, all.data(),
                        static_cast<int>(digests.size()), MPI_UINT64_T, 0, comm.get()),
             "restart_driver", "MPI_Gather");
  if (comm.rank() == 0) {
    std::FILE* f = std::fopen(o.out.c_str(), "w");
    if (f == nullptr) throw mr::Error("restart_driver: cannot write '" + o.out + "'");
    std::fprintf(f, "rounds %llu\nupdates %llu\nepsilon %a\n", static_cast<unsigned long long>(averager.rounds()),
                 static_cast<unsigned long long>(averager.updates()), averager.epsilon());
    for (const float v : averager.global_parameters()) std::fprintf(f, "%a\n", static_cast<double>(v));
    for (std::size_t i = 0; i < all.size(); ++i) {
      std::fprintf(f, "rank %zu agent %zu digest %016llx\n", i / agents_per_rank, i % agents_per_rank,
                   static_cast<unsigned long long>(all[i]));
    }
    if (std::fclose(f) != 0) throw mr::Error("restart_driver: cannot write '" + o.out + "'");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 2;
  int status = 0;
  try {
    const Options options = parse(argc, argv);
    const mr::dist::Communicator comm(MPI_COMM_WORLD);
    status = run(options, comm);
  } catch (const std::exception& e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    // The other ranks may be waiting in a collective: end the whole job.
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return status;
}
