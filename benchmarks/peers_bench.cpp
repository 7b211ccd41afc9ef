// marl_rec's exact scoring beside its peers, in the same process on the same data (the N(0, 1)
// float32 items and queries of score_top_k_bench.cpp, bench::normal_data), k = 10, one query at a
// time, one thread unless the name ends in 2T:
//  - StreamRead1T: a plain SIMD sum over the item matrix, the memory ceiling of any exact scan;
//    StreamRead2T: the caller's thread and one worker std::thread each sum half of the rows (wall
//    time);
//  - FmaPeak1T / FmaPeak2T: the arithmetic ceiling, independent FMAs on registers (counter
//    gflops);
//  - MarlRecTopK: simd::score_top_k;
//  - FaissFlatIP_*: FAISS IndexFlatIP::search (when FAISS is installed): `default` settings, and
//    `blas` with faiss::distance_compute_blas_threshold = 0 (the BLAS path even for one query);
//    q1 is one query per call, q8 / q256 a batch of 8 / 256 (reported per query);
//  - HnswlibBruteForce: hnswlib::BruteforceSearch over InnerProductSpace (when hnswlib is);
//  - HnswRecall: marl_rec's HnswCandidates (an HNSW graph, approximate), swept over ef_search.
// Counters: ms_per_query; x_ceiling (StreamRead1T's time / this per-query time: the fraction of
// the memory ceiling reached); items_per_second (items scanned per second, N per query);
// x_marl_rec (MarlRecTopK's time / this: above 1 is faster than marl_rec); agrees_with_marl_rec
// (the fraction of 8 queries whose top 10 is marl_rec's, near-ties allowed: below 1 is a harness
// bug). HnswRecall runs at N = 10^5, d = 64 (also at 10^6 when the environment has
// MARL_REC_BENCH_HNSW_1M: that graph takes about 11 min of one core to build) and adds
// recall_at_10 against the exact top 10 over 256 queries, x_bruteforce (MarlRecTopK's time /
// this), build_s and build_cpu_s (wall and CPU time of the one-thread graph build: on a busy
// machine the CPU time is the one-core figure). Ratios come from the same run; run a shape's
// benchmarks together (a filter keeps the registration order).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "marl_rec/core/thread_pool.hpp"
#include "marl_rec/simd/batch_top_k.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/parallel_top_k.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

#ifdef MARL_REC_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>
#include <omp.h>
#endif

#ifdef MARL_REC_HAVE_HNSWLIB
#include "marl_rec/index/brute_force_candidates.hpp"
// hnswlib 0.6.2 may be included in one translation unit only: this one.
#include "marl_rec/index/hnsw_candidates.hpp"
#endif

namespace {

using marl_rec::ScoredItem;
namespace simd = marl_rec::simd;
namespace bench = marl_rec::bench;
using Data = bench::NormalData;

constexpr std::size_t kTop = 10;

const Data& data_for(const benchmark::State& state) {
  return bench::normal_data(static_cast<std::size_t>(state.range(0)),
                            static_cast<std::size_t>(state.range(1)));
}

std::string shape_of(const benchmark::State& state) {
  return std::to_string(state.range(0)) + "x" + std::to_string(state.range(1));
}

// The counters every method reports; `seconds` is the time of one query.
void report(benchmark::State& state, const Data& data, double seconds,
            std::size_t queries_per_iteration) {
  const std::string shape = shape_of(state);
  state.counters["ms_per_query"] = seconds * 1e3;
  bench::ratio_counter(state, "x_ceiling", "StreamRead1T", shape, seconds);
  bench::ratio_counter(state, "x_marl_rec", "MarlRecTopK", shape, seconds);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(queries_per_iteration * data.n));
}

#if defined(MARL_REC_HAVE_FAISS) || defined(MARL_REC_HAVE_HNSWLIB)

// Queries whose top 10 each peer must share with marl_rec (agrees_with_marl_rec).
constexpr std::size_t kAgreementQueries = 8;

// The inner product in double precision: the judge of near-ties.
double exact_score(const Data& data, std::size_t item, std::span<const float> query) {
  const std::span<const float> row = data.view().row(item);
  double sum = 0.0;
  for (std::size_t j = 0; j < row.size(); ++j) sum += double(row[j]) * double(query[j]);
  return sum;
}

// marl_rec's top k of query q.
std::vector<std::size_t> marl_rec_top(const Data& data, std::size_t q) {
  std::vector<ScoredItem> best(kTop);
  const std::size_t count = simd::score_top_k(data.query(q), data.view(), kTop, best);
  std::vector<std::size_t> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = best[i].index;
  return ids;
}

// True when `got` holds marl_rec's top k of query q up to near-ties: the same number of distinct
// valid ids, and an id only one list has scores (exactly) within a float rounding of the other
// list's k-th best. Different summation orders may swap items whose scores differ in the last bits.
bool agrees_with_marl_rec(const Data& data, std::size_t q, std::vector<std::size_t> got) {
  const std::vector<std::size_t> want = marl_rec_top(data, q);
  if (got.size() != want.size()) return false;
  std::vector<std::size_t> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return false;
  if (!sorted.empty() && sorted.back() >= data.n) return false;
  const std::span<const float> query = data.query(q);
  const auto kth = [&](const std::vector<std::size_t>& ids) {
    double low = HUGE_VAL;
    for (const std::size_t i : ids) low = std::min(low, exact_score(data, i, query));
    return low;
  };
  const double want_kth = kth(want);
  const double got_kth = kth(got);
  const double tolerance = 1e-4 * (1.0 + std::fabs(want_kth));
  const auto has = [](const std::vector<std::size_t>& ids, std::size_t i) {
    return std::find(ids.begin(), ids.end(), i) != ids.end();
  };
  for (const std::size_t i : got) {
    if (!has(want, i) && exact_score(data, i, query) < want_kth - tolerance) return false;
  }
  for (const std::size_t i : want) {
    if (!has(got, i) && exact_score(data, i, query) < got_kth - tolerance) return false;
  }
  return true;
}

// Fraction of the first kAgreementQueries queries on which `top_of(q)` (ids) agrees with marl_rec.
template <class TopOf>
double agreement(const Data& data, const TopOf& top_of) {
  std::size_t agree = 0;
  for (std::size_t q = 0; q < kAgreementQueries; ++q) {
    agree += agrees_with_marl_rec(data, q, top_of(q)) ? 1 : 0;
  }
  return static_cast<double>(agree) / static_cast<double>(kAgreementQueries);
}

#endif  // a peer is installed

// Runs two jobs at once: one on a worker std::thread that lives as long as this object (so no
// thread is started inside a timed loop), one on the caller's thread; returns when both are done.
// A mutex and a condition variable hand the job over (libstdc++ 12's std::barrier stalled for
// hundreds of milliseconds here on a loaded machine).
class TwoThreads {
 public:
  TwoThreads() : worker_([this] { serve(); }) {}
  TwoThreads(const TwoThreads&) = delete;
  TwoThreads& operator=(const TwoThreads&) = delete;
  ~TwoThreads() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  void run(const std::function<void()>& mine, std::function<void()> theirs) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      job_ = std::move(theirs);
      ++started_;
    }
    changed_.notify_all();
    mine();
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return finished_ == started_; });
  }

 private:
  void serve() {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || started_ != seen; });
      if (stop_) return;
      seen = started_;
      lock.unlock();
      job_();  // run() does not touch job_ again until finished_ catches up
      lock.lock();
      finished_ = seen;
      lock.unlock();
      changed_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> job_;
  std::uint64_t started_ = 0;
  std::uint64_t finished_ = 0;
  bool stop_ = false;
  std::thread worker_;  // last: starts once the rest exists
};

// ---- ceilings --------------------------------------------------------------------------------

void StreamRead1T(benchmark::State& state) {
  const Data& data = data_for(state);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bench::stream_sum(data.items.data(), data.items.size()));
  }
  const double seconds = timer.record(state, "StreamRead1T", shape_of(state));
  report(state, data, seconds, 1);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(data.items.size() * sizeof(float)));
}

void StreamRead2T(benchmark::State& state) {
  const Data& data = data_for(state);
  // Split at a row boundary that keeps the second half 64-byte aligned (stream_sum loads aligned).
  const std::size_t half_rows = (data.n / 2) & ~std::size_t{15};
  const std::size_t split = half_rows * data.d;
  const float* items = data.items.data();
  const std::size_t total = data.items.size();
  float first = 0.0f;
  float second = 0.0f;
  TwoThreads threads;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    threads.run([&] { first = bench::stream_sum(items, split); },
                [&] { second = bench::stream_sum(items + split, total - split); });
    benchmark::DoNotOptimize(first + second);
  }
  const double seconds = timer.record(state, "StreamRead2T", shape_of(state));
  report(state, data, seconds, 1);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(total * sizeof(float)));
}

// Independent FMA chains: FMA latency (4 cycles) times 2 ports needs 8 in flight; 12 leave room
// and, with the two operands, fit in the 16 registers of AVX2 (no spills).
constexpr std::size_t kFmaChains = 12;
constexpr std::size_t kFmaRounds = std::size_t{1} << 20;
using FmaBatch = xsimd::batch<float, xsimd::default_arch>;
constexpr double kFmaFlops = 2.0 * kFmaChains * kFmaRounds * FmaBatch::size;

float fma_loop() {
  // Operands read from volatile storage, so the compiler can neither fold nor shorten the chains
  // (not benchmark::DoNotOptimize on a float lvalue: with GCC 12, Google Benchmark 1.7.1's "+m,r"
  // constraint let it read the floats from stack memory never written). x = x·a + b stays near
  // b / (1 − a) = 1: no overflow, no denormals.
  volatile float mul = 0.999999f;
  volatile float add = 1e-6f;
  const FmaBatch a(static_cast<float>(mul));
  const FmaBatch b(static_cast<float>(add));
  FmaBatch acc[kFmaChains];
  for (std::size_t c = 0; c < kFmaChains; ++c) {
    acc[c] = FmaBatch(1.0f + 0.001f * static_cast<float>(c));
  }
  for (std::size_t r = 0; r < kFmaRounds; ++r) {
    for (std::size_t c = 0; c < kFmaChains; ++c) acc[c] = xsimd::fma(acc[c], a, b);
  }
  FmaBatch sum = acc[0];
  for (std::size_t c = 1; c < kFmaChains; ++c) sum += acc[c];
  return simd::compat::reduce_add(sum);
}

void FmaPeak1T(benchmark::State& state) {
  const bench::LoopTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(fma_loop());
  const double seconds = timer.record(state, "FmaPeak1T", "");
  state.counters["gflops"] = kFmaFlops / seconds / 1e9;
}

void FmaPeak2T(benchmark::State& state) {
  TwoThreads threads;
  float first = 0.0f;
  float second = 0.0f;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    threads.run([&] { first = fma_loop(); }, [&] { second = fma_loop(); });
    benchmark::DoNotOptimize(first + second);
  }
  const double seconds = timer.record(state, "FmaPeak2T", "");
  state.counters["gflops"] = 2.0 * kFmaFlops / seconds / 1e9;
  bench::ratio_counter(state, "x_1T", "FmaPeak1T", "", seconds / 2.0);
}

// ---- marl_rec --------------------------------------------------------------------------------

void MarlRecTopK(benchmark::State& state) {
  const Data& data = data_for(state);
  std::vector<ScoredItem> out(kTop);
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simd::score_top_k(data.query(q), data.view(), kTop, out));
    benchmark::DoNotOptimize(out.data());
    q = (q + 1) % bench::normal_data_queries;
  }
  const double seconds = timer.record(state, "MarlRecTopK", shape_of(state));
  report(state, data, seconds, 1);
}

// ---- marl_rec: several threads, batches ------------------------------------------------------

// The pool the 2-thread runs use: built once, outside every timed loop.
marl_rec::ThreadPool& two_threads() {
  static marl_rec::ThreadPool pool(2);
  return pool;
}

void MarlRecTopK2T(benchmark::State& state) {
  const Data& data = data_for(state);
  std::vector<ScoredItem> out(kTop);
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simd::score_top_k(data.query(q), data.view(), kTop, out,
                                               marl_rec::NoExclusion{}, two_threads()));
    benchmark::DoNotOptimize(out.data());
    q = (q + 1) % bench::normal_data_queries;
  }
  const double seconds = timer.record(state, "MarlRecTopK2T", shape_of(state));
  report(state, data, seconds, 1);
  bench::ratio_counter(state, "x_ceiling_2T", "StreamRead2T", shape_of(state), seconds);
}

// A batch of `queries` queries per call; `pool` null for one thread. Reports per-query time and,
// against the FMA peak measured in the same run with as many threads, the fraction of the peak.
void batch_run(benchmark::State& state, std::size_t queries, marl_rec::ThreadPool* pool,
               const std::string& name) {
  const Data& data = data_for(state);
  const marl_rec::MatrixView batch(std::span<const float>(data.queries).first(queries * data.d),
                                   queries, data.d);
  std::vector<ScoredItem> out(queries * kTop);
  std::vector<std::size_t> counts(queries);
  const bench::LoopTimer timer;
  for (auto _ : state) {
    if (pool != nullptr) {
      simd::score_top_k_batch(batch, data.view(), kTop, out, counts, marl_rec::NoExclusion{},
                              *pool);
    } else {
      simd::score_top_k_batch(batch, data.view(), kTop, out, counts);
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double seconds = timer.record(state, name, shape_of(state)) / static_cast<double>(queries);
  report(state, data, seconds, queries);
  const double gflops = 2.0 * static_cast<double>(data.n * data.d) / seconds / 1e9;
  state.counters["gflops"] = gflops;
  const char* peak = pool != nullptr ? "FmaPeak2T" : "FmaPeak1T";
  const auto it = bench::seconds_per_iteration().find({peak, ""});
  if (it != bench::seconds_per_iteration().end()) {
    const double peak_gflops = (pool != nullptr ? 2.0 : 1.0) * kFmaFlops / it->second / 1e9;
    state.counters["of_fma_peak"] = gflops / peak_gflops;
  }
  if (pool != nullptr) {
    bench::ratio_counter(state, "x_ceiling_2T", "StreamRead2T", shape_of(state), seconds);
  }
}

void MarlRecBatch8(benchmark::State& state) { batch_run(state, 8, nullptr, "MarlRecBatch8"); }
void MarlRecBatch8_2T(benchmark::State& state) {
  batch_run(state, 8, &two_threads(), "MarlRecBatch8_2T");
}
void MarlRecBatch256(benchmark::State& state) {
  batch_run(state, 256, nullptr, "MarlRecBatch256");
}
void MarlRecBatch256_2T(benchmark::State& state) {
  batch_run(state, 256, &two_threads(), "MarlRecBatch256_2T");
}

// ---- FAISS -----------------------------------------------------------------------------------

#ifdef MARL_REC_HAVE_FAISS

// FAISS's copy of the items of the current shape (one shape at a time, like the data).
const faiss::IndexFlatIP& faiss_index_for(const Data& data) {
  static std::unique_ptr<faiss::IndexFlatIP> index;
  static std::size_t built_n = 0;
  static std::size_t built_d = 0;
  if (!index || built_n != data.n || built_d != data.d) {
    index.reset();
    index = std::make_unique<faiss::IndexFlatIP>(static_cast<int64_t>(data.d));
    index->add(static_cast<int64_t>(data.n), data.items.data());
    built_n = data.n;
    built_d = data.d;
  }
  return *index;
}

// faiss::distance_compute_blas_threshold (a FAISS global: batches of at least this many queries
// take the BLAS path) for the life of a benchmark, restored after.
class BlasThreshold {
 public:
  explicit BlasThreshold(int threshold) : saved_(faiss::distance_compute_blas_threshold) {
    faiss::distance_compute_blas_threshold = threshold;
  }
  BlasThreshold(const BlasThreshold&) = delete;
  BlasThreshold& operator=(const BlasThreshold&) = delete;
  ~BlasThreshold() { faiss::distance_compute_blas_threshold = saved_; }

 private:
  int saved_;
};

// IndexFlatIP::search, `batch` queries per call; `blas_threshold` < 0 keeps FAISS's default.
void faiss_flat_ip(benchmark::State& state, std::size_t batch, int blas_threshold,
                   const char* name) {
  omp_set_num_threads(1);  // FAISS's and OpenBLAS's OpenMP threads: one
  const Data& data = data_for(state);
  const faiss::IndexFlatIP& index = faiss_index_for(data);
  std::unique_ptr<BlasThreshold> threshold;
  if (blas_threshold >= 0) threshold = std::make_unique<BlasThreshold>(blas_threshold);
  std::vector<float> scores(batch * kTop);
  std::vector<int64_t> labels(batch * kTop);
  const auto search = [&](std::size_t first_query, std::size_t count) {
    index.search(static_cast<int64_t>(count), data.queries.data() + first_query * data.d,
                 static_cast<int64_t>(kTop), scores.data(), labels.data());
  };
  // The agreement check runs the same call shape (`batch` queries) as the timed loop.
  std::vector<std::vector<std::size_t>> tops(kAgreementQueries);
  for (std::size_t q0 = 0; q0 < kAgreementQueries; q0 += std::min(batch, kAgreementQueries)) {
    const std::size_t count = std::min(batch, bench::normal_data_queries - q0);
    search(q0, count);
    for (std::size_t q = q0; q < std::min(q0 + count, kAgreementQueries); ++q) {
      for (std::size_t i = 0; i < kTop; ++i) {
        const int64_t label = labels[(q - q0) * kTop + i];
        if (label >= 0) tops[q].push_back(static_cast<std::size_t>(label));
      }
    }
  }
  const double agree = agreement(data, [&](std::size_t q) { return tops[q]; });
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    search(q, batch);
    benchmark::DoNotOptimize(labels.data());
    q = (q + batch) % bench::normal_data_queries;  // 256 is a multiple of every batch
  }
  const double seconds = timer.record(state, name, shape_of(state)) / static_cast<double>(batch);
  report(state, data, seconds, batch);
  state.counters["agrees_with_marl_rec"] = agree;
}

void FaissFlatIP_q1_default(benchmark::State& state) {
  faiss_flat_ip(state, 1, -1, "FaissFlatIP_q1_default");
}
void FaissFlatIP_q1_blas(benchmark::State& state) {
  faiss_flat_ip(state, 1, 0, "FaissFlatIP_q1_blas");
}
void FaissFlatIP_q8_default(benchmark::State& state) {
  faiss_flat_ip(state, 8, -1, "FaissFlatIP_q8_default");
}
void FaissFlatIP_q8_blas(benchmark::State& state) {
  faiss_flat_ip(state, 8, 0, "FaissFlatIP_q8_blas");
}
// 256 ≥ the default threshold (20): FAISS's default already takes the BLAS path.
void FaissFlatIP_q256_default(benchmark::State& state) {
  faiss_flat_ip(state, 256, -1, "FaissFlatIP_q256_default");
}

#endif  // MARL_REC_HAVE_FAISS

// ---- hnswlib ---------------------------------------------------------------------------------

#ifdef MARL_REC_HAVE_HNSWLIB

// hnswlib's brute force over the items of the current shape (it keeps its own copy).
struct HnswlibBruteForceIndex {
  std::size_t n = 0;
  std::size_t d = 0;
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::BruteforceSearch<float>> index;
};

const hnswlib::BruteforceSearch<float>& hnswlib_brute_force_for(const Data& data) {
  static HnswlibBruteForceIndex cache;
  if (!cache.index || cache.n != data.n || cache.d != data.d) {
    cache.index.reset();
    cache.space = std::make_unique<hnswlib::InnerProductSpace>(data.d);
    cache.index = std::make_unique<hnswlib::BruteforceSearch<float>>(cache.space.get(), data.n);
    for (std::size_t i = 0; i < data.n; ++i) cache.index->addPoint(data.view().row(i).data(), i);
    cache.n = data.n;
    cache.d = data.d;
  }
  return *cache.index;
}

// hnswlib's result queue (worst on top) as ids, best first.
template <class Queue>
std::vector<std::size_t> ids_best_first(Queue queue) {
  std::vector<std::size_t> ids(queue.size());
  for (std::size_t i = ids.size(); i-- > 0;) {
    ids[i] = static_cast<std::size_t>(queue.top().second);
    queue.pop();
  }
  return ids;
}

void HnswlibBruteForce(benchmark::State& state) {
  const Data& data = data_for(state);
  const hnswlib::BruteforceSearch<float>& index = hnswlib_brute_force_for(data);
  const double agree = agreement(data, [&](std::size_t q) {
    return ids_best_first(index.searchKnn(data.query(q).data(), kTop));
  });
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    auto found = index.searchKnn(data.query(q).data(), kTop);
    benchmark::DoNotOptimize(found);
    q = (q + 1) % bench::normal_data_queries;
  }
  const double seconds = timer.record(state, "HnswlibBruteForce", shape_of(state));
  report(state, data, seconds, 1);
  state.counters["agrees_with_marl_rec"] = agree;
}

// marl_rec's HnswCandidates over the items of the current shape, built once (the build is the
// expensive part), with the exact top 10 of every query.
struct HnswRecallIndex {
  std::size_t n = 0;
  std::size_t d = 0;
  double build_seconds = 0.0;
  double build_cpu_seconds = 0.0;
  std::unique_ptr<marl_rec::HnswCandidates> graph;
  std::vector<std::vector<std::size_t>> exact;
};

HnswRecallIndex& hnsw_recall_index_for(const Data& data) {
  static HnswRecallIndex cache;
  if (!cache.graph || cache.n != data.n || cache.d != data.d) {
    cache.graph.reset();
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    cache.graph = std::make_unique<marl_rec::HnswCandidates>(
        data.view(), marl_rec::HnswConfig{.links = 16, .ef_construction = 200, .seed = 100});
    cache.build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cache.build_cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const marl_rec::BruteForceCandidates exact(data.view());
    cache.exact.assign(bench::normal_data_queries, std::vector<std::size_t>(kTop));
    for (std::size_t q = 0; q < bench::normal_data_queries; ++q) {
      exact.generate(data.query(q), kTop, cache.exact[q]);
    }
    cache.n = data.n;
    cache.d = data.d;
  }
  return cache;
}

// Args: n, d, ef_search.
void HnswRecall(benchmark::State& state) {
  const Data& data = data_for(state);
  HnswRecallIndex& index = hnsw_recall_index_for(data);
  index.graph->set_ef_search(static_cast<std::size_t>(state.range(2)));
  std::vector<std::size_t> got(kTop);
  std::size_t hits = 0;
  for (std::size_t q = 0; q < bench::normal_data_queries; ++q) {
    const std::size_t count = index.graph->generate(data.query(q), kTop, got);
    for (std::size_t i = 0; i < count; ++i) {
      const std::vector<std::size_t>& exact = index.exact[q];
      hits += std::find(exact.begin(), exact.end(), got[i]) != exact.end() ? 1 : 0;
    }
  }
  std::size_t q = 0;
  const bench::LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.graph->generate(data.query(q), kTop, got));
    benchmark::DoNotOptimize(got.data());
    q = (q + 1) % bench::normal_data_queries;
  }
  const double seconds =
      timer.record(state, "HnswRecall/ef" + std::to_string(state.range(2)), shape_of(state));
  report(state, data, seconds, 1);
  state.counters.erase("x_marl_rec");  // it is x_bruteforce here
  bench::ratio_counter(state, "x_bruteforce", "MarlRecTopK", shape_of(state), seconds);
  state.counters["recall_at_10"] =
      static_cast<double>(hits) / static_cast<double>(bench::normal_data_queries * kTop);
  state.counters["build_s"] = index.build_seconds;
  state.counters["build_cpu_s"] = index.build_cpu_seconds;
}

#endif  // MARL_REC_HAVE_HNSWLIB

using BenchmarkFunction = void (*)(benchmark::State&);

// Registration order matters: a shape's baselines (StreamRead1T, MarlRecTopK) run before what
// compares to them, and shapes are the outer loop so that each matrix is built once. Names keep
// CI's smoke filter '/100000/64/' to the cheap runs: the HNSW build is named n:/d:/ef:.
void register_all() {
  for (const auto& [name, fn] : std::vector<std::pair<const char*, BenchmarkFunction>>{
           {"FmaPeak1T", FmaPeak1T}, {"FmaPeak2T", FmaPeak2T}}) {
    benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  std::vector<std::pair<const char*, BenchmarkFunction>> methods = {
      {"StreamRead1T", StreamRead1T}, {"StreamRead2T", StreamRead2T}, {"MarlRecTopK", MarlRecTopK},
      {"MarlRecTopK2T", MarlRecTopK2T}, {"MarlRecBatch8", MarlRecBatch8},
      {"MarlRecBatch8_2T", MarlRecBatch8_2T}, {"MarlRecBatch256", MarlRecBatch256},
      {"MarlRecBatch256_2T", MarlRecBatch256_2T}};
#ifdef MARL_REC_HAVE_FAISS
  methods.insert(methods.end(), {{"FaissFlatIP_q1_default", FaissFlatIP_q1_default},
                                 {"FaissFlatIP_q1_blas", FaissFlatIP_q1_blas},
                                 {"FaissFlatIP_q8_default", FaissFlatIP_q8_default},
                                 {"FaissFlatIP_q8_blas", FaissFlatIP_q8_blas},
                                 {"FaissFlatIP_q256_default", FaissFlatIP_q256_default}});
#endif
#ifdef MARL_REC_HAVE_HNSWLIB
  methods.emplace_back("HnswlibBruteForce", HnswlibBruteForce);
#endif
  for (const long n : {10000L, 100000L, 1000000L}) {
    for (const long d : {64L, 128L}) {
      for (const auto& [name, fn] : methods) {
        benchmark::RegisterBenchmark(name, fn)
            ->Args({n, d})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
#ifdef MARL_REC_HAVE_HNSWLIB
      // The graph of 10^6 items takes about 11 min of one core to build: only on request.
      const bool hnsw_million = std::getenv("MARL_REC_BENCH_HNSW_1M") != nullptr;
      if (d == 64 && (n == 100000 || (n == 1000000 && hnsw_million))) {
        for (const long ef : {10L, 20L, 40L, 80L, 160L, 320L}) {
          benchmark::RegisterBenchmark("HnswRecall", HnswRecall)
              ->Args({n, d, ef})
              ->ArgNames({"n", "d", "ef"})
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
#endif
    }
  }
}

const int kRegistered = (register_all(), 0);

}  // namespace
