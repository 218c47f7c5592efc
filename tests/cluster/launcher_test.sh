#!/usr/bin/env bash
# scripts/mpiray-run and the Slurm templates, without a cluster: the launcher's choices (printed
# with --dry-run) outside and inside a (simulated) Slurm allocation, real local runs through it,
# the templates' syntax and required lines, and the cluster apps' --help. Needs no root.
#   tests/cluster/launcher_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_apps quickstart cluster_probe scaling_app
WORK="$BUILD_DIR/cluster-tests/launcher"
rm -rf "$WORK"; mkdir -p "$WORK/bin"
RUN="$SRC_DIR/scripts/mpiray-run"
QS="$APPS/quickstart"
NP=$(nproc)
ROOTFLAG=""; [[ $(id -u) -eq 0 ]] && ROOTFLAG=" --allow-run-as-root"

# The environment of a plain shell: no Slurm job, no MPIRAY_* settings.
clean_env() {
  local unset=() v
  for v in $(compgen -e | grep -E '^(SLURM_|MPIRAY_)'); do unset+=(-u "$v"); done
  env "${unset[@]}" "$@"
}
expect() {  # expect DESCRIPTION EXPECTED_LINE COMMAND...
  local what=$1 want=$2 got; shift 2
  got=$("$@" 2>&1)
  if [[ $got == "$want" ]]; then log "ok   - $what"; else
    log "FAIL - $what"; echo "      want: $want"; echo "      got:  $got"; FAILURES=$((FAILURES + 1)); fi
}

log "mpiray-run outside Slurm"
expect "default: cores + 1 ranks, oversubscribed" \
  "+ mpirun -np $((NP + 1)) --oversubscribe$ROOTFLAG $QS" clean_env "$RUN" --dry-run "$QS"
expect "-n cores: no --oversubscribe" \
  "+ mpirun -np $NP$ROOTFLAG $QS --x 1" clean_env "$RUN" --dry-run -n "$NP" "$QS" --x 1
expect "-t 3 -q: threads and quiet reach every rank through -x" \
  "+ MPIRAY_QUIET=1 MPIRAY_THREADS=3 mpirun -np 2$ROOTFLAG -x MPIRAY_QUIET -x MPIRAY_THREADS $QS" \
  clean_env "$RUN" --dry-run -n 2 -t 3 -q "$QS"
printf 'hostA slots=4\nhostB slots=4\n# comment\nhostC\n' >"$WORK/hosts"
expect "--hostfile: ranks = slots, placed by node" \
  "+ mpirun -np 9$ROOTFLAG --hostfile $WORK/hosts --map-by node $QS" clean_env "$RUN" --dry-run --hostfile "$WORK/hosts" "$QS"
expect "--hostfile with more ranks than slots oversubscribes" \
  "+ mpirun -np 12 --oversubscribe$ROOTFLAG --hostfile $WORK/hosts --map-by node $QS" \
  clean_env "$RUN" --dry-run --hostfile "$WORK/hosts" -n 12 "$QS"
expect "launcher options pass through (with --)" \
  "+ mpirun -np 2$ROOTFLAG --mca btl self,tcp --tag-output $QS -- a" \
  clean_env "$RUN" --dry-run -n 2 --mca btl self,tcp --tag-output -- "$QS" -- a
expect "--launcher direct runs one process" "+ $QS" clean_env "$RUN" --dry-run -l direct "$QS"

log "mpiray-run inside a (simulated) Slurm allocation: a stand-in srun on PATH"
printf '#!/bin/sh\necho "fake srun $*"\n' >"$WORK/bin/srun"; chmod +x "$WORK/bin/srun"
SL=(PATH="$WORK/bin:$PATH" SLURM_JOB_ID=42 SLURM_NTASKS=8 SLURM_NNODES=2 SLURM_CPUS_PER_TASK=4)
expect "auto picks srun --mpi=pmix and passes --cpus-per-task from the allocation" \
  "+ srun --mpi=pmix --cpus-per-task=4 $QS" clean_env "${SL[@]}" "$RUN" --dry-run "$QS"
expect "--per-node: -n computed (SLURM_NTASKS would win over --ntasks-per-node)" \
  "+ srun --mpi=pmix -n 4 --ntasks-per-node=2 --cpus-per-task=4 $QS" clean_env "${SL[@]}" "$RUN" --dry-run -p 2 "$QS"
expect "-t overrides the allocation's cpus per task" \
  "+ srun --mpi=pmix -N 2 -n 3 --cpus-per-task=1 $QS" clean_env "${SL[@]}" "$RUN" --dry-run -N 2 -n 3 -t 1 "$QS"
expect "--launcher mpirun inside the allocation: the allocation's tasks, no --oversubscribe" \
  "+ mpirun -np 8$ROOTFLAG $QS" clean_env "${SL[@]}" "$RUN" --dry-run -l mpirun "$QS"
expect "srun really gets the arguments" "fake srun --mpi=pmix --cpus-per-task=4 $QS x" \
  clean_env "${SL[@]}" "$RUN" "$QS" x
expect "bad -n is refused" "mpiray-run: --np must be a positive number, got 'x'" clean_env "$RUN" -n x "$QS"

log "real local runs through mpiray-run"
clean_env "$RUN" -v -n 3 "$QS" >"$WORK/run3.out" 2>&1
check "mpiray-run -n 3 quickstart succeeds" has "$WORK/run3.out" '^quickstart: OK$'
check "banner: 3 ranks launched by mpirun" has "$WORK/run3.out" '^mpiray: 3 rank\(s\) on 1 node\(s\).*launched by mpirun$'
clean_env "$RUN" -q -t 2 -n 3 "$APPS/cluster_probe" --bytes 65536 >"$WORK/probe.out" 2>&1
check "cluster_probe locally: OK, every worker ran its pinned task" \
  bash -c "grep -q '^cluster_probe: OK$' '$WORK/probe.out' && grep -q '^summary ranks=3 workers=2 ' '$WORK/probe.out'"
check "-t 2 reached the workers, -q silenced the banner" \
  bash -c "[ \$(grep -c 'threads=2 role=worker' '$WORK/probe.out') -eq 2 ] && ! grep -q '^mpiray: ' '$WORK/probe.out'"
clean_env "$RUN" -l direct "$QS" >"$WORK/direct.out" 2>&1
check "--launcher direct: one process" has "$WORK/direct.out" 'launched by single process'
sed 's/^/    | /' "$WORK/probe.out"

log "Slurm templates"
for t in "$SRC_DIR"/scripts/slurm/*.sbatch; do
  n=$(basename "$t")
  check "$n: bash syntax" bash -n "$t"
  check "$n: has #SBATCH lines and an EDIT header" bash -c "grep -q '^#SBATCH ' '$t' && grep -q '^# EDIT' '$t'"
  if [[ $n != scaling-study.sbatch ]]; then
    check "$n: srun --mpi=pmix with explicit --cpus-per-task, and an mpirun variant" \
      bash -c "grep -Eq '^ *srun --mpi=pmix .*--cpus-per-task=' '$t' && grep -Eq '^ *mpirun ' '$t'"
  fi
done

log "apps' --help and argument errors"
check "cluster_probe --help" bash -c "'$APPS/cluster_probe' --help | grep -q -- '--expect-hosts'"
check "scaling_app --help" bash -c "'$APPS/scaling_app' --help | grep -q -- '--weak N'"
"$APPS/scaling_app" >/dev/null 2>&1; check "scaling_app without --strong/--weak exits 2" [ $? -eq 2 ]
"$APPS/cluster_probe" --bogus >/dev/null 2>&1; check "cluster_probe with an unknown option exits 2" [ $? -eq 2 ]

((FAILURES == 0)) || fail "$FAILURES check(s) failed"
log "PASSED"
