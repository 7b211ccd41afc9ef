// Built with the consumer's default flags. With isa_mix_native.cpp (built with -march=native)
// it forms one program, as a dispatching engine would: the kernels each unit calls must be its
// own architecture's, never a body the linker picked from the other unit.
#include <marl_rec/marl_rec.hpp>

#include <span>
#include <string>

using DotFn = float (*)(std::span<const float>, std::span<const float>);

std::string marl_rec_isa_baseline_arch() { return xsimd::default_arch::name(); }
DotFn marl_rec_isa_baseline_dot() { return &marl_rec::simd::dot<>; }
float marl_rec_isa_baseline_top(std::span<const float> q, marl_rec::MatrixView items) {
  marl_rec::ScoredItem best[1];
  marl_rec::simd::score_top_k(q, items, 1, best);
  return best[0].score;
}
