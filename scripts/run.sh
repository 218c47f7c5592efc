#!/usr/bin/env bash
# The main demo: installs dependencies, builds, and runs the quickstart tour with mpirun on this
# machine's cores.   scripts/run.sh [np]   (default: cores + 1, i.e. a driver and a worker per core)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
source "$root/scripts/mpi_env.sh"
np="${1:-$(mpiray_local_np)}"
echo "+ mpirun -np $np $(mpiray_mpirun_flags "$np") build/apps/quickstart"
exec mpirun -np "$np" $(mpiray_mpirun_flags "$np") "${MPIRAY_BUILD_DIR:-$root/build}/apps/quickstart"
