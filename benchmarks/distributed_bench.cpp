// Benchmarks of the MPI parts (include/marl_rec/dist/), run under mpiexec:
//   mpiexec -n P marl_rec_distributed_benchmarks [--benchmark_filter=...]
// Every rank runs every benchmark for the same fixed number of iterations (the loops are
// collective, so Google Benchmark may not pick a count per rank); an iteration's time is the
// slowest rank's (MPI_Allreduce MAX), reported as manual time; rank 0 prints.
//
// - dist/whole_catalog_rank0/R/D: rank 0 alone runs simd::score_top_k over all R rows (the other
//   ranks wait): one process on one core, the strong-scaling baseline of this run.
// - dist/local_shard/R/D: every rank scans only its R/P rows (no communication): the compute part.
// - dist/sharded_top_k/R/D: dist::sharded_score_top_k (validation, query broadcast, local scan,
//   gather and merge). Counters: speedup over dist/whole_catalog_rank0 of the same shape, and
//   over dist/local_shard (communication overhead).
// - dist/allreduce_doubles/N and dist/fedavg_round/N: a raw MPI_Allreduce(SUM) of N + 2 doubles,
//   and one MpiFederatedAveraging round over a model of N parameters per rank (the same
//   allreduce, plus the local weighted sum, a small MAX allreduce and the replica hash check).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <istream>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mpi.h>

#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/dist/communicator.hpp"
#include "marl_rec/dist/mpi_federated_averaging.hpp"
#include "marl_rec/dist/sharded_top_k.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"

namespace {

namespace mr = marl_rec;

const mr::dist::Communicator* g_comm = nullptr;  // set by main, for the benchmark bodies

// Seconds per iteration of the baselines, by (name, shape), for the ratio counters.
std::map<std::pair<std::string, std::string>, double>& baselines() {
  static std::map<std::pair<std::string, std::string>, double> table;
  return table;
}

// The slowest rank's seconds for one iteration.
double slowest(double seconds) {
  double max = 0.0;
  g_comm->check(MPI_Allreduce(&seconds, &max, 1, MPI_DOUBLE, MPI_MAX, g_comm->get()), "bench", "MPI_Allreduce");
  return max;
}

// Rows [first, first + count) of the catalog of `dim` columns: row r from its own seed, so every
// rank builds exactly its rows.
mr::AlignedVector<float> rows(std::size_t first, std::size_t count, std::size_t dim) {
  mr::AlignedVector<float> v(count * dim);
  for (std::size_t r = 0; r < count; ++r) {
    mr::Rng rng(0xC0FFEEull + first + r);
    for (std::size_t d = 0; d < dim; ++d) v[r * dim + d] = static_cast<float>(rng.normal());
  }
  return v;
}

std::string shape(std::size_t r, std::size_t d) { return std::to_string(r) + "/" + std::to_string(d); }

constexpr std::size_t k = 10;

void whole_catalog_rank0(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)), dim = static_cast<std::size_t>(state.range(1));
  const bool me = g_comm->rank() == 0;
  const mr::AlignedVector<float> whole = me ? rows(0, n, dim) : mr::AlignedVector<float>{};
  const mr::MatrixView items = me ? mr::MatrixView(whole, n, dim) : mr::MatrixView{};
  const mr::AlignedVector<float> query = rows(n + 1, 1, dim);
  std::vector<mr::ScoredItem> out(k);
  double total = 0.0;
  for (auto _ : state) {
    const double start = MPI_Wtime();
    if (me) benchmark::DoNotOptimize(mr::simd::score_top_k(std::span<const float>(query), items, k, out));
    const double seconds = slowest(MPI_Wtime() - start);
    state.SetIterationTime(seconds);
    total += seconds;
  }
  baselines()[{"whole", shape(n, dim)}] = total / static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * dim * sizeof(float)));
}

struct Shard {
  std::size_t offset = 0, count = 0;
  mr::AlignedVector<float> values;
};

Shard my_shard(std::size_t n, std::size_t dim) {
  const auto p = static_cast<std::size_t>(g_comm->size()), r = static_cast<std::size_t>(g_comm->rank());
  Shard s;
  s.offset = n * r / p;
  s.count = n * (r + 1) / p - s.offset;
  s.values = rows(s.offset, s.count, dim);
  return s;
}

void local_shard(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)), dim = static_cast<std::size_t>(state.range(1));
  const Shard s = my_shard(n, dim);
  const mr::MatrixView items(s.values, s.count, dim);
  const mr::AlignedVector<float> query = rows(n + 1, 1, dim);
  std::vector<mr::ScoredItem> out(k);
  double total = 0.0;
  for (auto _ : state) {
    const double start = MPI_Wtime();
    benchmark::DoNotOptimize(mr::simd::score_top_k(std::span<const float>(query), items, k, out));
    const double seconds = slowest(MPI_Wtime() - start);
    state.SetIterationTime(seconds);
    total += seconds;
  }
  baselines()[{"local", shape(n, dim)}] = total / static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * dim * sizeof(float)));
}

void sharded_top_k(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)), dim = static_cast<std::size_t>(state.range(1));
  const Shard s = my_shard(n, dim);
  const mr::MatrixView items(s.values, s.count, dim);
  mr::AlignedVector<float> query = rows(n + 1, 1, dim);
  std::vector<mr::ScoredItem> out(k);
  double total = 0.0;
  for (auto _ : state) {
    const double start = MPI_Wtime();
    benchmark::DoNotOptimize(mr::dist::sharded_score_top_k(*g_comm, query, items, s.offset, k, out, 0));
    const double seconds = slowest(MPI_Wtime() - start);
    state.SetIterationTime(seconds);
    total += seconds;
  }
  const double mine = total / static_cast<double>(state.iterations());
  if (const auto w = baselines().find({"whole", shape(n, dim)}); w != baselines().end()) {
    state.counters["speedup_vs_1_rank"] = w->second / mine;
  }
  if (const auto l = baselines().find({"local", shape(n, dim)}); l != baselines().end()) {
    state.counters["x_local_scan"] = mine / l->second;
  }
  state.counters["ranks"] = g_comm->size();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * dim * sizeof(float)));
}

void allreduce_doubles(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<double> values(n + 2, 1.0);
  double total = 0.0;
  for (auto _ : state) {
    const double start = MPI_Wtime();
    g_comm->check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                                g_comm->get()),
                  "bench", "MPI_Allreduce");
    std::fill(values.begin(), values.end(), 1.0);  // keep the values finite
    const double seconds = slowest(MPI_Wtime() - start);
    state.SetIterationTime(seconds);
    total += seconds;
  }
  baselines()[{"allreduce", std::to_string(n)}] = total / static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (n + 2) * sizeof(double)));
}

// A model that is only its parameters (a round's cost is then the averaging's alone).
class Parameters {
 public:
  explicit Parameters(std::vector<float> p) : p_(std::move(p)) {}
  void score(const mr::Context&, mr::Candidates c, std::span<float> s) const {
    for (std::size_t i = 0; i < c.size(); ++i) s[i] = p_[c[i]];
  }
  void update(const mr::Context&, std::size_t item, double reward) { p_[item] += static_cast<float>(reward); }
  void save(std::ostream&) const {}
  void load(std::istream&) {}
  std::string_view name() const { return "parameters"; }
  std::span<const float> shared_parameters() const { return p_; }
  void set_shared_parameters(std::span<const float> v) { p_.assign(v.begin(), v.end()); }

 private:
  std::vector<float> p_;
};

void fedavg_round(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Parameters model(std::vector<float>(n, 0.5f));
  std::vector<Parameters*> mine = {&model};
  mr::dist::MpiFederatedAveraging averager(*g_comm, {});
  averager.broadcast(mine);
  const std::vector<double> weights = {1.0 + g_comm->rank()};
  double total = 0.0;
  for (auto _ : state) {
    model.update({}, static_cast<std::size_t>(g_comm->rank()) % n, 0.01);  // something to average
    const double start = MPI_Wtime();
    averager.average(mine, weights);
    const double seconds = slowest(MPI_Wtime() - start);
    state.SetIterationTime(seconds);
    total += seconds;
  }
  if (const auto b = baselines().find({"allreduce", std::to_string(n)}); b != baselines().end()) {
    state.counters["x_raw_allreduce"] = (total / static_cast<double>(state.iterations())) / b->second;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(float)));
}

// Fixed iteration counts (collective loops), about 0.1 to 1 s each on one core.
BENCHMARK(whole_catalog_rank0)->Name("dist/whole_catalog_rank0")->Args({200000, 64})->Args({1000000, 64})
    ->Iterations(40)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(local_shard)->Name("dist/local_shard")->Args({200000, 64})->Args({1000000, 64})
    ->Iterations(40)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(sharded_top_k)->Name("dist/sharded_top_k")->Args({200000, 64})->Args({1000000, 64})
    ->Iterations(40)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(allreduce_doubles)->Name("dist/allreduce_doubles")->Arg(1000)->Arg(100000)->Arg(1000000)
    ->Iterations(50)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(fedavg_round)->Name("dist/fedavg_round")->Arg(1000)->Arg(100000)->Arg(1000000)
    ->Iterations(50)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The other ranks report nothing (rank 0 prints the slowest rank's times).
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 2;
  int status = 0;
  try {
    const mr::dist::Communicator comm(MPI_COMM_WORLD);
    g_comm = &comm;
    // Only rank 0 writes --benchmark_out (the other ranks would write the same file).
    std::vector<char*> args(argv, argv + argc);
    if (comm.rank() != 0) {
      std::erase_if(args, [](const char* a) { return std::string_view(a).starts_with("--benchmark_out"); });
    }
    int arg_count = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&arg_count, args.data());
    if (comm.rank() == 0) {
      benchmark::RunSpecifiedBenchmarks();
    } else {
      SilentReporter silent;
      benchmark::RunSpecifiedBenchmarks(&silent);
    }
    benchmark::Shutdown();
    g_comm = nullptr;
  } catch (const std::exception& e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    status = 1;
  }
  MPI_Finalize();
  return status;
}
