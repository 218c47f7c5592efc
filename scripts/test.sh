#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every CTest test (unit tests, MPI
# tests at 1-4 ranks, failure-mode tests, the find_package consumer test).
#   scripts/test.sh [extra ctest args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
source "$root/scripts/mpi_env.sh"
cd "${MPIRAY_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 300 "$@"
