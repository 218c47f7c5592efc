#!/usr/bin/env bash
# Configures and builds mpiray (Release) into build/ (or $MPIRAY_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MPIRAY_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${MPIRAY_BUILD_TYPE:-Release}" >/dev/null
cmake --build "$build" -j "$(nproc)"
