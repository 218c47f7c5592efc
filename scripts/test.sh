#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every CTest test (unit tests, MPI
# tests at 1-4 ranks, failure-mode tests, the find_package consumer test).
# Then the unit tests once more under AddressSanitizer and UBSan (build-asan/).
#   scripts/test.sh [extra ctest args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
source "$root/scripts/mpi_env.sh"
(cd "${MPIRAY_BUILD_DIR:-$root/build}" && ctest --output-on-failure --timeout 300 "$@")

# The unit tests once more under AddressSanitizer and UndefinedBehaviorSanitizer (no MPI in
# them): the scheduler keeps raw pointers between its tables, and a stale one shows up reliably
# only under a sanitizer. MPIRAY_SKIP_ASAN=1 skips this part.
if [[ "${MPIRAY_SKIP_ASAN:-0}" != 1 ]]; then
  asan="${MPIRAY_ASAN_BUILD_DIR:-$root/build-asan}"
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  cmake -S "$root" -B "$asan" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
  cmake --build "$asan" -j "$(nproc)" --target unit_tests
  (cd "$asan" && ctest --output-on-failure --timeout 300 -L unit)
fi
