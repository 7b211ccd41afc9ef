// Two translation units that both include the umbrella header, linked into one program: any
// non-inline definition in a header would make the link fail (ODR).
#include <marl_rec/marl_rec.hpp>

float marl_rec_odr_first(std::span<const float> a) { return marl_rec::simd::dot(a, a); }
