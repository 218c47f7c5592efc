#!/usr/bin/env bash
# Consumer test: install the current mpiray build into a temporary prefix, build the separate
# project in tests/consumer/ against it with find_package(mpiray), run it, check its output.
#
#   run_consumer_test.sh <cmake> <mpiray build dir> <consumer source dir>
set -euo pipefail
cmake_exe="$1"
build_dir="$2"
source_dir="$3"

work="$(mktemp -d "${TMPDIR:-/tmp}/mpiray-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

fail() {
  [[ -n "${2:-}" && -f "$2" ]] && cat "$2"
  echo "consumer: FAIL: $1"
  exit 1
}

echo "consumer: installing $build_dir into $prefix"
"$cmake_exe" --install "$build_dir" --prefix "$prefix" >"$work/install.log" 2>&1 \
  || fail "cmake --install" "$work/install.log"
config="$(find "$prefix" -name mpirayConfig.cmake | head -n 1)"
[[ -n "$config" ]] || fail "no mpirayConfig.cmake was installed" "$work/install.log"
[[ -f "$prefix/include/mpiray/mpiray.hpp" ]] || fail "headers were not installed" "$work/install.log"

echo "consumer: configuring $source_dir against $prefix only"
"$cmake_exe" -S "$source_dir" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 || fail "configure" "$work/configure.log"
grep -q "mpiray_DIR:PATH=$prefix" "$work/build/CMakeCache.txt" \
  || fail "find_package(mpiray) did not use the installed package" "$work/build/CMakeCache.txt"

echo "consumer: building"
"$cmake_exe" --build "$work/build" -j 2 >"$work/build.log" 2>&1 || fail "build" "$work/build.log"

echo "consumer: running $work/build/consumer_app"
rc=0
out="$(MPIRAY_QUIET=1 "$work/build/consumer_app" 2>&1)" || rc=$?
echo "$out"
((rc == 0)) || fail "consumer_app exited with $rc"
[[ "$out" == *"consumer: value=81 on 1 rank(s)"* ]] || fail "unexpected output"
echo "consumer: PASS"
