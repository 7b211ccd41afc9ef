#!/usr/bin/env bash
# Sets up what is missing (Debian packages), builds the demo in build/release and runs it.
# Arguments are passed to the demo (try --help); its plot goes to build/demo unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release
cmake --build --preset release --target marl_rec_demo
./build/release/examples/marl_rec_demo --out build/demo "$@"
