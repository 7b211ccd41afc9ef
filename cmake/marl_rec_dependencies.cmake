# Finds marl_rec's dependencies. Used by the project itself (top level or add_subdirectory) and by
# the installed package config, so that consumers get exactly the same lookup and fixes.

include(CMakeFindDependencyMacro)

# Inside a package config find_dependency() forwards REQUIRED/QUIET from the consumer's
# find_package(marl_rec); anywhere else a missing dependency must stop configuration loudly.
macro(_marl_rec_find_dependency)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "marl_rec")
    find_dependency(${ARGN})
  else()
    find_package(${ARGN} REQUIRED)
  endif()
endmacro()

_marl_rec_find_dependency(Eigen3 3.4 CONFIG)

# No version in the call: xsimd's version file accepts only its own major version, and Debian 12
# ships 8.1 while Conan and vcpkg ship 9 and later. The minimum is checked by hand.
_marl_rec_find_dependency(xsimd CONFIG)
if(xsimd_VERSION VERSION_LESS 8.1)
  message(FATAL_ERROR "marl_rec needs xsimd 8.1 or newer, found ${xsimd_VERSION}")
endif()

# Debian 12's libxsimd-dev lists `xtl` as an interface link library of the xsimd target, but its
# package config never looks for xtl and the package does not depend on xtl-dev: linking then
# fails with "cannot find -lxtl". xsimd itself needs nothing from xtl, so when no xtl target
# exists, look for one and otherwise stand in an empty interface target. GLOBAL, because the
# link item is resolved in whichever directory imported xsimd (possibly a parent of this one).
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_marl_rec_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_marl_rec_xsimd_links AND "xtl" IN_LIST _marl_rec_xsimd_links)
    find_package(xtl CONFIG QUIET)
    if(NOT TARGET xtl)
      add_library(xtl INTERFACE IMPORTED GLOBAL)
    endif()
  endif()
  unset(_marl_rec_xsimd_links)
endif()
