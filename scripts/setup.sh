#!/usr/bin/env bash
# Installs what marl_rec needs from Debian 12 and is missing; installs nothing when all is there.
#   scripts/setup.sh [--with-clang] [--with-python] [--with-bench-peers] [--with-mpi]
# --with-clang also installs clang and its sanitizer runtimes (CI builds with it: warnings, ASan).
# --with-python also installs python3, which runs scripts/bench_plot.py (benchmark JSON → SVG)
# and its tests (left out of the test suite when there is no Python).
# --with-bench-peers also installs FAISS (with OpenMP OpenBLAS) and hnswlib, which the benchmark
# program measures beside marl_rec (benchmarks/peers_bench.cpp) and which HnswCandidates and its
# test need (each is left out when its library is missing).
# --with-mpi also installs Open MPI (library, headers, mpiexec), which the distributed parts need
# (include/marl_rec/dist/, built with -DMARL_REC_BUILD_DISTRIBUTED=ON or the `mpi` preset).
set -euo pipefail

packages=(cmake g++ ninja-build pkgconf libeigen3-dev libxsimd-dev doctest-dev libbenchmark-dev)
for arg in "$@"; do
  case "$arg" in
    --with-clang) packages+=(clang libclang-rt-14-dev) ;;
    --with-python) packages+=(python3) ;;
    --with-bench-peers) packages+=(libfaiss-dev libopenblas-openmp-dev libhnswlib-dev) ;;
    --with-mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    *) echo "setup.sh: unknown option '$arg' (known: --with-clang, --with-python, --with-bench-peers, --with-mpi)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: everything marl_rec needs is installed."
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "setup.sh: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup.sh: installing them needs root. As root, run:" >&2
    echo "    apt-get update && apt-get install -y ${missing[*]}" >&2
    echo "or run $(realpath "$0") as root." >&2
    exit 1
  fi
fi

echo "setup.sh: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
