#!/usr/bin/env bash
# scripts/scaling/mpiray-scale on this machine: --dry-run prints every launch and runs nothing;
# a small strong + weak study writes both CSVs with the documented columns and, where gnuplot is
# (as root it is installed from Debian's gnuplot-nox), both PNG plots. Needs no root.
#   tests/cluster/scaling_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_apps scaling_app
WORK="$BUILD_DIR/cluster-tests/scaling"
rm -rf "$WORK"; mkdir -p "$WORK"
SCALE="$SRC_DIR/scripts/scaling/mpiray-scale"
APP="$APPS/scaling_app"
unset SLURM_JOB_ID SLURM_NTASKS MPIRAY_THREADS MPIRAY_QUIET

log "--dry-run"
"$SCALE" --dry-run --mode both --ranks "3 2" --reps 2 --app "$APP" --out "$WORK/dry" >"$WORK/dry.out" 2>&1
check "dry run exits 0" [ $? -eq 0 ]
sed 's/^/    | /' "$WORK/dry.out"
check "dry run prints 2 modes x 2 reps x 2 rank counts = 8 launches" [ "$(count "$WORK/dry.out" 'mpiray-run -q -n [23] -t 1 -- ')" -eq 8 ]
check "dry run: strong uses --strong 64, weak --weak 16 (defaults)" \
  bash -c "[ \$(grep -c -- '--strong 64\$' '$WORK/dry.out') -eq 4 ] && [ \$(grep -c -- '--weak 16\$' '$WORK/dry.out') -eq 4 ]"
check "dry run creates no output" [ ! -e "$WORK/dry" ]
"$SCALE" --mode sideways >/dev/null 2>&1; check "bad --mode exits 2" [ $? -eq 2 ]
"$SCALE" --ranks "2 x" --dry-run >/dev/null 2>&1; check "bad --ranks exits 2" [ $? -eq 2 ]

log "a small real study: ranks 2 and 3, 2 repetitions, strong 8 units, weak 4 units per worker"
"$SCALE" --mode both --ranks "2 3" --reps 2 --strong-work 8 --weak-work 4 --samples 1048576 \
  --app "$APP" --out "$WORK/out" >"$WORK/run.out" 2>&1
rc=$?
sed 's/^/    | /' "$WORK/run.out"
check "study exits 0" [ $rc -eq 0 ]
header="mode,ranks,nodes,workers,threads,units,reps,wall_median_s,wall_min_s,wall_max_s,speedup,efficiency,ideal_speedup,launch_median_s"
for m in strong weak; do
  csv="$WORK/out/$m.csv"
  check "$m.csv header" [ "$(head -1 "$csv" 2>/dev/null)" = "$header" ]
  check "$m.csv: base row (2 ranks, 1 worker, 1 thread) has speed-up 1 and efficiency 1" \
    grep -Eq "^$m,2,1,1,1,[0-9]+,2,[0-9.]+,[0-9.]+,[0-9.]+,1\\.0000,1\\.0000,1\\.0000," "$csv"
  check "$m.csv: 3 ranks = 2 workers, ideal speed-up 2, positive speed-up and efficiency" \
    awk -F, -v m="$m" '$1 == m && $2 == 3 && $4 == 2 && $13 == 2 && $11 > 0 && $12 > 0 && $9 <= $8 && $8 <= $10 { ok = 1 } END { exit !ok }' "$csv"
  check "$m: one log per launch" [ "$(ls "$WORK/out/logs/$m"-r*-rep*.log 2>/dev/null | wc -l)" -eq 4 ]
  if command -v gnuplot >/dev/null; then
    check "$m.png is a PNG" bash -c "head -c 8 '$WORK/out/$m.png' | od -c | grep -q 'P   N   G'"
  else
    log "note: gnuplot not installed (apt-get install gnuplot-nox): PNG not checked"
  fi
done
check "weak units grow with workers (4 per worker)" \
  bash -c "grep -q '^weak,2,1,1,1,4,' '$WORK/out/weak.csv' && grep -q '^weak,3,1,2,1,8,' '$WORK/out/weak.csv'"

((FAILURES == 0)) || fail "$FAILURES check(s) failed"
log "PASSED"
