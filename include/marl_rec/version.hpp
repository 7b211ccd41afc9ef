// marl_rec — the one source of the library's version (CMake parses these three lines).
#pragma once

#define MARL_REC_VERSION_MAJOR 0
#define MARL_REC_VERSION_MINOR 1
#define MARL_REC_VERSION_PATCH 0

/// The version as one comparable integer: major * 10000 + minor * 100 + patch.
#define MARL_REC_VERSION \
  (MARL_REC_VERSION_MAJOR * 10000 + MARL_REC_VERSION_MINOR * 100 + MARL_REC_VERSION_PATCH)

namespace marl_rec {
/// The library version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";
}  // namespace marl_rec
