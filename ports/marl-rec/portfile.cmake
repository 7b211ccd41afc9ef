# vcpkg overlay port for marl_rec, built from the repository this port lives in.
#
# Not run on the project's machines (vcpkg is not installed there); checked by review against the
# vcpkg documentation (learn.microsoft.com/vcpkg: "Overlay ports", "Tutorial: Package a library",
# the vcpkg_cmake_configure, vcpkg_cmake_install, vcpkg_cmake_config_fixup,
# vcpkg_fixup_pkgconfig and vcpkg_install_copyright references) and against the header-only ports
# of the vcpkg registry. The CTest test `package/recipes` checks that the versions in this port
# and in the root vcpkg.json equal the project's, that every MARL_REC_BUILD_* option is turned off
# below, and that PACKAGE_NAME and CONFIG_PATH are what the project's install produces.
#
#   vcpkg install marl-rec --overlay-ports=<this repository>/ports
#
# Why no vcpkg_from_github: that call needs a published repository and a release tag (REPO, REF
# and the archive's SHA512), and marl_rec has neither yet. An overlay port kept inside the
# project's own repository conventionally builds the tree around it instead; when a release is
# tagged, a registry port replaces the next line with
#   vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO <owner>/<name> REF "v${VERSION}"
#                     SHA512 <hash of that archive> HEAD_REF main)
# and keeps everything after it.
# Note: vcpkg identifies a built package (installed or in its binary cache) by the port's files,
# not by this source tree. After editing the library, add a "port-version" to vcpkg.json (or
# `vcpkg remove marl-rec` and reinstall with --no-binarycaching), or vcpkg keeps the old build.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

# Header-only: one configuration is enough, so vcpkg builds no debug/ tree (as its own
# header-only ports do) and there is none to remove afterwards.
set(VCPKG_BUILD_TYPE release)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DMARL_REC_BUILD_TESTS=OFF
        -DMARL_REC_BUILD_EXAMPLES=OFF
        -DMARL_REC_BUILD_BENCHMARKS=OFF
        -DMARL_REC_BUILD_FUZZERS=OFF
        # On by default for a top-level build; explicit, since the port depends on it.
        -DMARL_REC_INSTALL=ON
)
vcpkg_cmake_install()

# The project installs its CMake package to share/cmake/marl_rec; vcpkg wants share/marl_rec.
vcpkg_cmake_config_fixup(PACKAGE_NAME marl_rec CONFIG_PATH share/cmake/marl_rec)
# marl_rec.pc (share/pkgconfig) is already relocatable; vcpkg still normalises and checks it.
vcpkg_fixup_pkgconfig()

vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
