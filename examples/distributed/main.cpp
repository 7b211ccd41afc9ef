// marl_rec_distributed_demo — agents on different MPI ranks learning together, then serving from a
// catalog sharded over the ranks (docs/distributed.md).
//
// Run: mpiexec -n 2 marl_rec_distributed_demo [--items N] [--rounds R] [--steps S] [--k K]
//                                              [--private] [--seed X] [--quick]
// (Open MPI as root, or with more ranks than cores: add --allow-run-as-root / --oversubscribe.)
//
// What it does.
// - A synthetic world (seeded): users and items have hidden taste vectors in 8 dimensions; a
//   user likes an item with probability sigmoid(3 · taste_u · taste_i / √8).
// - Each rank runs one agent: a MatrixFactorization (16 factors) that learns online from its own
//   users only (user u belongs to rank u mod ranks): each step, one of its users is shown a
//   random item and the like (1) or not (0) is learned.
// - dist::MpiFederatedAveraging averages the agents' item factors every S steps (a round;
//   weighted by the examples each agent learned; server learning rate η = ranks), R rounds in
//   all. --private adds agent-level differential privacy (clip 0.5, noise multiplier 0.8,
//   η = 1) and prints the ε spent: it shows the mechanism, not a useful trade-off — with a
//   handful of agents the noise that hides one agent's whole contribution swamps the signal
//   (examples/federated_private shows the trade-off with hundreds of agents).
// - Serving: rank r keeps only its slice of the (now common) item factors; a user's factors are
//   the query, sent from rank 0 (the user's own rank) to all; dist::sharded_score_top_k merges
//   every rank's k best. The program checks that the answer equals single-process
//   simd::score_top_k over the whole matrix, and prints the mean true affinity of the k items
//   recommended to rank 0's users against that of the whole catalog (learning shows as a gap).
// Defaults: 2,000 items, 40 users per rank, 30 rounds of 20,000 steps, k = 10, seed 1 (about
// 0.6 s on 2 ranks); --quick (the CTest run): 400 items, 10 rounds of 4,000 steps. Exit status 1 if the sharded answer ever
// differs from the single-process one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mpi.h>

#include "marl_rec/core/error.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/dist/mpi_federated_averaging.hpp"
#include "marl_rec/dist/sharded_top_k.hpp"
#include "marl_rec/models/matrix_factorization.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace {

namespace mr = marl_rec;

constexpr std::size_t taste_dim = 8;
constexpr std::size_t users_per_rank = 40;

struct Options {
  std::size_t items = 2000, rounds = 30, steps = 20000, k = 10;
  std::uint64_t seed = 1;
  bool private_rounds = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto number = [&]() -> std::uint64_t {
      if (i + 1 >= argc) throw mr::Error("marl_rec_distributed_demo: " + std::string(a) + " needs a value");
      return std::stoull(argv[++i]);
    };
    if (a == "--items") o.items = number();
    else if (a == "--rounds") o.rounds = number();
    else if (a == "--steps") o.steps = number();
    else if (a == "--k") o.k = number();
    else if (a == "--seed") o.seed = number();
    else if (a == "--private") o.private_rounds = true;
    else if (a == "--quick") o.items = 400, o.rounds = 10, o.steps = 4000;
    else throw mr::Error("marl_rec_distributed_demo: unknown argument '" + std::string(a) + "'");
  }
  if (o.items == 0 || o.k == 0 || o.steps == 0) throw mr::Error("marl_rec_distributed_demo: --items, --k and --steps must be > 0");
  return o;
}

// Hidden taste vectors of `n` users or items (the same on every rank: drawn from the seed).
std::vector<float> tastes(std::size_t n, std::uint64_t seed) {
  mr::Rng rng(seed);
  std::vector<float> t(n * taste_dim);
  for (float& x : t) x = static_cast<float>(rng.normal());
  return t;
}

double affinity(const std::vector<float>& users, std::size_t u, const std::vector<float>& items, std::size_t i) {
  double dot = 0.0;
  for (std::size_t d = 0; d < taste_dim; ++d) {
    dot += static_cast<double>(users[u * taste_dim + d]) * static_cast<double>(items[i * taste_dim + d]);
  }
  return dot / std::sqrt(static_cast<double>(taste_dim));
}

int run(const Options& o, const mr::dist::Communicator& comm) {
  const auto ranks = static_cast<std::size_t>(comm.size()), rank = static_cast<std::size_t>(comm.rank());
  const std::size_t users = users_per_rank * ranks;
  const std::vector<float> user_taste = tastes(users, o.seed * 2 + 1), item_taste = tastes(o.items, o.seed * 2 + 2);

  // Every rank's agent starts from the same model (every user and item known; factors from the seed).
  mr::Interactions known;
  for (std::size_t u = 0; u < users; ++u) known.users.intern(mr::numbered_id("u", u));
  for (std::size_t i = 0; i < o.items; ++i) known.items.intern(mr::numbered_id("i", i));
  for (std::size_t u = 0; u < users; ++u) known.rows.push_back({.user = u, .item = u % o.items});
  mr::MatrixFactorization agent({.factors = 16, .epochs = 0, .learning_rate = 0.05f, .init_scale = 0.1f, .seed = o.seed});
  agent.fit(known);
  std::vector<mr::MatrixFactorization*> mine = {&agent};

  mr::dist::MpiFederatedAveragingConfig config;
  config.every_n_updates = o.steps;
  config.seed = o.seed;
  // Each of the ranks' agents sees 1/ranks of the data: η = ranks applies the sum of their
  // updates (see FederatedAveragingConfig::server_learning_rate).
  config.server_learning_rate = static_cast<double>(ranks);
  if (o.private_rounds) {
    config.privacy = {.enabled = true, .clip_norm = 0.5, .noise_multiplier = 0.8, .delta = 1e-5};
    config.server_learning_rate = 1.0;  // the noise is scaled by η too
  }
  mr::dist::MpiFederatedAveraging averager(comm, config);
  averager.broadcast(mine);

  mr::Rng rng(o.seed * 1000 + rank);
  std::vector<double> learned = {0.0};
  const auto train_start = std::chrono::steady_clock::now();
  for (std::size_t step = 0; step < o.rounds * o.steps; ++step) {
    const std::size_t user = rank + ranks * rng.below(users_per_rank);  // one of this rank's users
    const std::size_t item = rng.below(o.items);
    const double p = 1.0 / (1.0 + std::exp(-3.0 * affinity(user_taste, user, item_taste, item)));
    agent.update({.user = user}, item, rng.bernoulli(p) ? 1.0 : 0.0);
    learned[0] += 1.0;
    if (averager.step(mine, learned)) learned[0] = 0.0;
  }
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count();

  // Serving: this rank's contiguous slice of the common item factors.
  const std::size_t f = agent.factors();
  const std::size_t offset = o.items * rank / ranks, local_rows = o.items * (rank + 1) / ranks - offset;
  const mr::MatrixView all_items = agent.item_factors();
  const mr::MatrixView shard(std::span<const float>(all_items.data() + offset * f, local_rows * f), local_rows, f);
  std::vector<float> query(f);
  std::vector<mr::ScoredItem> got(std::min(o.k, o.items)), expected(got.size());
  int mismatches = 0;
  double recommended_affinity = 0.0, query_seconds = 0.0;
  std::size_t recommended = 0;
  for (std::size_t j = 0; j < users_per_rank; ++j) {
    const std::size_t user = ranks * j;  // rank 0's users (rank 0 sends the query)
    if (comm.rank() == 0) {
      const std::span<const float> row = agent.user_factors().row(user);
      std::copy(row.begin(), row.end(), query.begin());
    }
    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = mr::dist::sharded_score_top_k(comm, query, shard, offset, o.k, got, 0);
    query_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Every rank holds the whole matrix here too, so each checks the answer against one process's.
    const std::size_t n_expected = mr::simd::score_top_k(std::span<const float>(query), all_items, o.k, expected);
    const bool same = n == n_expected && std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n), expected.begin());
    mismatches += same ? 0 : 1;
    for (std::size_t r = 0; r < n; ++r) recommended_affinity += affinity(user_taste, user, item_taste, got[r].index);
    recommended += n;
  }
  int any_mismatch = 0;
  comm.check(MPI_Allreduce(&mismatches, &any_mismatch, 1, MPI_INT, MPI_SUM, comm.get()), "demo", "MPI_Allreduce");

  if (comm.rank() == 0) {
    double catalog_affinity = 0.0;
    for (std::size_t j = 0; j < users_per_rank; ++j) {
      for (std::size_t i = 0; i < o.items; ++i) catalog_affinity += affinity(user_taste, ranks * j, item_taste, i);
    }
    catalog_affinity /= static_cast<double>(users_per_rank * o.items);
    std::printf("%zu ranks, %zu items, %zu users; %llu rounds of %zu steps per rank in %.2f s\n", ranks, o.items,
                users, static_cast<unsigned long long>(averager.rounds()), o.steps, train_seconds);
    if (o.private_rounds) {
      std::printf("privacy: epsilon %.2f at delta 1e-5 (clip 0.5, noise multiplier 0.8)\n", averager.epsilon());
    }
    std::printf("mean true affinity of the top %zu for rank 0's users: %.3f (whole catalog: %.3f)\n", o.k,
                recommended_affinity / static_cast<double>(std::max<std::size_t>(recommended, 1)), catalog_affinity);
    std::printf("sharded top-%zu: %.1f us per query; identical to single-process score_top_k: %s\n", o.k,
                1e6 * query_seconds / users_per_rank, any_mismatch == 0 ? "yes" : "NO");
  }
  return any_mismatch == 0 ? 0 : 1;
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
    MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks may be waiting in a collective
  }
  MPI_Finalize();
  return status;
}
