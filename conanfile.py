# Conan 2 recipe for marl_rec, a header-only C++20 library.
#
# Not run on the project's machines (Conan is not installed there); checked by review against the
# Conan 2 documentation (docs.conan.io/2: "Header-only packages" tutorial, the set_version(),
# validate(), package_id() and test() method references, check_min_cppstd, the CMakeDeps
# properties cmake_file_name / cmake_target_name / pkg_config_name) and against ConanCenter's
# header-only recipe template. The CTest test `package/recipes` checks that what this recipe
# declares (file, target and .pc names, dependency minimums) matches the CMake package the
# project installs.
#
#   conan create . -s compiler.cppstd=20 --build=missing   # package + run test_package/
import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class MarlRecConan(ConanFile):
    name = "marl_rec"
    description = "Header-only C++20 library for multi-agent recommendation that learns online"
    license = "MIT"
    topics = ("recommender-systems", "bandits", "reinforcement-learning", "simd", "header-only")
    package_type = "header-library"
    # Declared so that validate() can see the compiler and its C++ standard; package_id() then
    # drops them, since one package of headers serves every configuration.
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*", "LICENSE"
    no_copy_source = True

    # The oldest compilers the project builds and tests with (README: g++ 12, clang 14).
    # Others are not refused here, only required to accept C++20.
    _compilers_minimum_version = {"gcc": "12", "clang": "14"}

    def set_version(self):
        # One source of truth, include/marl_rec/version.hpp, which CMake reads too.
        text = load(self, os.path.join(self.recipe_folder, "include", "marl_rec", "version.hpp"))
        parts = []
        for part in ("MAJOR", "MINOR", "PATCH"):
            match = re.search(rf"^#define MARL_REC_VERSION_{part} (\d+)$", text, re.MULTILINE)
            if match is None:
                raise ConanException(f"version.hpp has no MARL_REC_VERSION_{part} line")
            parts.append(match.group(1))
        from_headers = ".".join(parts)
        # A --version that disagrees would label these headers with a version they are not.
        if self.version is not None and str(self.version) != from_headers:
            raise ConanException(
                f"--version {self.version} differs from version.hpp ({from_headers})")
        self.version = from_headers

    def layout(self):
        basic_layout(self)

    def requirements(self):
        # A header-library's requirements are transitive_headers by default, so consumers get
        # Eigen's and xsimd's include paths too.
        self.requires("eigen/3.4.0")
        # 8.1.0: the version Debian 12 ships and the tests run against. Newer xsimd (9+) works
        # through include/marl_rec/simd/xsimd_compat.hpp, but no test covers it.
        self.requires("xsimd/8.1.0")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)
        minimum = self._compilers_minimum_version.get(str(self.settings.compiler))
        if minimum and Version(self.settings.compiler.version) < minimum:
            raise ConanInvalidConfiguration(
                f"{self.ref} needs {self.settings.compiler} {minimum} or newer "
                f"(found {self.settings.compiler.version})")

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        # The same names as the project's own CMake package and .pc file, so that a consumer's
        # find_package(marl_rec) / marl_rec::marl_rec / pkg-config marl_rec work unchanged.
        self.cpp_info.set_property("cmake_file_name", "marl_rec")
        self.cpp_info.set_property("cmake_target_name", "marl_rec::marl_rec")
        self.cpp_info.set_property("pkg_config_name", "marl_rec")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
