# Checks that the Conan and vcpkg recipes agree with the project. Conan and vcpkg cannot run on
# the project's machines, so this is what keeps the recipes from drifting: versions, dependencies,
# the options the port turns off, and the names and paths the recipes give to what the project's
# install produces (checked against an installed tree).
#
#   cmake -DSOURCE_DIR=<repository> -DVERSION=<PROJECT_VERSION> -DPREFIX=<installed prefix>
#         -P recipes.cmake
#
# No Python: this runs where only CMake is installed.
cmake_minimum_required(VERSION 3.25)  # script mode: sets the policies (IN_LIST, string(JSON))
foreach(var SOURCE_DIR VERSION PREFIX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "recipes.cmake: -D${var}=... is required")
  endif()
endforeach()

set(errors "")
macro(fail what)
  list(APPEND errors "${what}")
endmacro()

# ---- the minimum dependency versions, from the installed .pc file's source -----------------------
# "Requires: eigen3 >= 3.4, xsimd >= 8.1" is the project's own statement of what it needs.
file(STRINGS "${SOURCE_DIR}/cmake/marl_rec.pc.in" _requires REGEX "^Requires:")
string(REGEX MATCH "eigen3 >= ([0-9.]+)" _ "${_requires}")
set(min_eigen "${CMAKE_MATCH_1}")
string(REGEX MATCH "xsimd >= ([0-9.]+)" _ "${_requires}")
set(min_xsimd "${CMAKE_MATCH_1}")
if(min_eigen STREQUAL "" OR min_xsimd STREQUAL "")
  message(FATAL_ERROR "cmake/marl_rec.pc.in: no 'Requires: eigen3 >= x, xsimd >= y' line")
endif()

# ---- what the install produced -------------------------------------------------------------------
file(GLOB_RECURSE _configs RELATIVE "${PREFIX}" "${PREFIX}/*Config.cmake")
list(FILTER _configs EXCLUDE REGEX "ConfigVersion\\.cmake$")
list(LENGTH _configs _n)
if(NOT _n EQUAL 1)
  message(FATAL_ERROR "expected one package config in the installed tree ${PREFIX}, \
found: ${_configs}")
endif()
get_filename_component(installed_config_dir "${_configs}" DIRECTORY)
get_filename_component(installed_package "${_configs}" NAME)
string(REGEX REPLACE "Config\\.cmake$" "" installed_package "${installed_package}")
file(GLOB _targets "${PREFIX}/${installed_config_dir}/*Targets.cmake")
if(NOT _targets)
  message(FATAL_ERROR "no *Targets.cmake beside ${PREFIX}/${_configs}")
endif()
list(GET _targets 0 _targets)
file(READ "${_targets}" installed_targets)
message(STATUS "installed: ${installed_config_dir}/${installed_package}Config.cmake")

# ---- vcpkg manifests -----------------------------------------------------------------------------
# Sets <out> to the names in the manifest's "dependencies" (strings or {"name": ...} objects).
function(manifest_dependencies json out)
  set(names "")
  string(JSON n ERROR_VARIABLE err LENGTH "${json}" dependencies)
  if(NOT err AND n GREATER 0)
    math(EXPR last "${n} - 1")
    foreach(i RANGE ${last})
      string(JSON type TYPE "${json}" dependencies ${i})
      if(type STREQUAL "STRING")
        string(JSON name GET "${json}" dependencies ${i})
      else()
        string(JSON name GET "${json}" dependencies ${i} name)
        string(JSON host ERROR_VARIABLE no_host GET "${json}" dependencies ${i} host)
        if(NOT no_host AND host)
          set(name "${name}:host")
        endif()
      endif()
      list(APPEND names "${name}")
    endforeach()
  endif()
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

foreach(manifest vcpkg.json ports/marl-rec/vcpkg.json)
  file(READ "${SOURCE_DIR}/${manifest}" json)
  string(JSON name ERROR_VARIABLE err GET "${json}" name)
  if(err OR NOT name STREQUAL "marl-rec")
    fail("${manifest}: name is '${name}', not 'marl-rec'")
  endif()
  string(JSON version ERROR_VARIABLE err GET "${json}" version)
  if(err OR NOT version STREQUAL VERSION)
    fail("${manifest}: version is '${version}', the project is ${VERSION}")
  endif()
  manifest_dependencies("${json}" deps)
  set(wanted eigen3 xsimd)
  if(manifest MATCHES "^ports/")
    list(APPEND wanted vcpkg-cmake:host vcpkg-cmake-config:host)
  endif()
  list(JOIN deps ", " deps_text)
  foreach(dep IN LISTS wanted)
    if(NOT dep IN_LIST deps)
      fail("${manifest}: dependencies (${deps_text}) lack ${dep}")
    endif()
  endforeach()
  message(STATUS "${manifest}: marl-rec ${version}, depends on ${deps_text}")
endforeach()

# ---- vcpkg portfile ------------------------------------------------------------------------------
file(READ "${SOURCE_DIR}/ports/marl-rec/portfile.cmake" portfile)
# Every MARL_REC_BUILD_* option of the project must be turned off by the port.
file(STRINGS "${SOURCE_DIR}/CMakeLists.txt" _options REGEX "^option\\(MARL_REC_BUILD_[A-Z_]+ ")
foreach(line IN LISTS _options)
  string(REGEX MATCH "MARL_REC_BUILD_[A-Z_]+" option "${line}")
  if(NOT portfile MATCHES "-D${option}=OFF")
    fail("ports/marl-rec/portfile.cmake: does not pass -D${option}=OFF")
  endif()
endforeach()
# PACKAGE_NAME and CONFIG_PATH must be the installed package's name and folder.
set(_fixup "vcpkg_cmake_config_fixup\\(PACKAGE_NAME ([A-Za-z0-9_]+) CONFIG_PATH ([^ )]+)\\)")
if(portfile MATCHES "${_fixup}")
  if(NOT CMAKE_MATCH_1 STREQUAL installed_package OR
     NOT CMAKE_MATCH_2 STREQUAL installed_config_dir)
    fail("ports/marl-rec/portfile.cmake: fixes up package ${CMAKE_MATCH_1} in ${CMAKE_MATCH_2}, \
the install has ${installed_package} in ${installed_config_dir}")
  endif()
else()
  fail("ports/marl-rec/portfile.cmake: \
no vcpkg_cmake_config_fixup(PACKAGE_NAME ... CONFIG_PATH ...)")
endif()

# ---- Conan recipe --------------------------------------------------------------------------------
file(READ "${SOURCE_DIR}/conanfile.py" conanfile)
# The version is read from version.hpp by set_version(); a literal one would be a second source.
if(conanfile MATCHES "\n    version = ")
  fail("conanfile.py: declares a literal version, but it must come from version.hpp (set_version)")
endif()
if(NOT conanfile MATCHES "def set_version\\(self\\):" OR NOT conanfile MATCHES "\"version.hpp\"")
  fail("conanfile.py: set_version() does not read include/marl_rec/version.hpp")
endif()
foreach(dep eigen xsimd)
  if(conanfile MATCHES "self\\.requires\\(\"${dep}/([0-9.]+)\"\\)")
    set(found "${CMAKE_MATCH_1}")
    if(found VERSION_LESS min_${dep})
      fail("conanfile.py: requires ${dep}/${found}, the project needs ${min_${dep}} or newer")
    endif()
    message(STATUS "conanfile.py: requires ${dep}/${found} (project minimum ${min_${dep}})")
  else()
    fail("conanfile.py: no self.requires(\"${dep}/<version>\")")
  endif()
endforeach()
# The names a consumer uses must be those of the project's own package.
foreach(property cmake_file_name cmake_target_name pkg_config_name)
  if(conanfile MATCHES "set_property\\(\"${property}\", \"([^\"]+)\"\\)")
    set(${property} "${CMAKE_MATCH_1}")
  else()
    fail("conanfile.py: package_info() does not set ${property}")
    set(${property} "")
  endif()
endforeach()
if(NOT cmake_file_name STREQUAL installed_package)
  fail("conanfile.py: cmake_file_name '${cmake_file_name}' is not the installed package's name \
'${installed_package}'")
endif()
if(NOT installed_targets MATCHES "add_library\\(${cmake_target_name} INTERFACE IMPORTED\\)")
  fail("conanfile.py: cmake_target_name '${cmake_target_name}' is not a target the installed \
package defines")
endif()
file(GLOB_RECURSE _pc "${PREFIX}/${pkg_config_name}.pc")
if(NOT _pc)
  fail("conanfile.py: pkg_config_name '${pkg_config_name}' names no installed .pc file")
endif()
message(STATUS "conanfile.py: find_package(${cmake_file_name}), ${cmake_target_name}, \
pkg-config ${pkg_config_name} match the install")

# Conan's test_package builds the consumer CI builds, not a copy of it.
file(READ "${SOURCE_DIR}/test_package/CMakeLists.txt" test_package)
if(NOT test_package MATCHES "/\\.\\./tests/package/consumer/main\\.cpp")
  fail("test_package/CMakeLists.txt: does not build tests/package/consumer/main.cpp")
endif()

if(errors)
  list(JOIN errors "\n  " text)
  message(FATAL_ERROR "the packaging recipes disagree with the project:\n  ${text}")
endif()
message(STATUS "Conan and vcpkg recipes agree with marl_rec ${VERSION}")
