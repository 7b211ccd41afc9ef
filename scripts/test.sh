#!/usr/bin/env bash
# Sets up what is missing (Debian packages), builds marl_rec in build/release and runs the whole
# test suite: the kernels on every ISA flavour this machine runs, the packaging consumers, the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release
cmake --build --preset release
ctest --preset release
