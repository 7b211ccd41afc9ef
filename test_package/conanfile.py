# Conan's test_package for marl_rec: `conan create .` builds and runs it against the package it
# has just made. It builds the same consumer program the CI package tests build
# (tests/package/consumer/main.cpp), here through Conan's CMakeDeps and CMakeToolchain.
#
# Not run on the project's machines (Conan is not installed there); checked by review against the
# Conan 2 documentation ("Testing Conan packages" tutorial, the test() method reference).
import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, cmake_layout


class MarlRecTestPackageConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "CMakeToolchain"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        # Cross-building: the program is built (which checks headers and flags) but not run.
        if can_run(self):
            self.run(os.path.join(self.cpp.build.bindir, "test_package"), env="conanrun")
