// marl_rec fuzzing — a property check that crashes the fuzzer (so libFuzzer saves the input).
#pragma once

#include <cstdio>
#include <cstdlib>

/// Aborts with the failed condition when `condition` is false.
#define MARL_REC_FUZZ_CHECK(condition)                                                      \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)
