#!/usr/bin/env bash
# Real Slurm on this machine (slurmctld + slurmd + munge from Debian packages, started by
# ../shared/recipes/local-slurm.sh): submits the project's batch templates with sbatch, with srun
# and with mpirun, plus mpiray-run inside an allocation and the scaling-study batch script, and
# checks each job's output. Needs root; tears Slurm down at the end whatever happens.
#   tests/cluster/slurm_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WORK="$BUILD_DIR/cluster-tests/slurm"

body() {
  export SLURM_CONF=/etc/slurm/slurm.conf  # local-slurm.sh's cluster, not another one in the env
  export OMPI_MCA_mpi_yield_when_idle=1      # more ranks than cores: yield instead of busy-polling
  local QS="$APPS/quickstart" PROBE="$APPS/cluster_probe" T="$SRC_DIR/scripts/slurm"
  log "sinfo: $(sinfo -h -o '%N %c CPUs %T')"

  # Everything is submitted first; Slurm runs what fits on the node's 4 declared CPUs.
  submit per_core_srun -n 3 "$T/rank-per-core.sbatch" "$QS"
  submit per_core_mpirun --export=ALL,LAUNCHER=mpirun -n 3 "$T/rank-per-core.sbatch" "$QS"
  submit per_node_srun -N 1 --cpus-per-task=2 "$T/rank-per-node.sbatch" "$PROBE" --bytes 65536
  submit nxm_srun -N 1 --ntasks-per-node=3 --cpus-per-task=1 "$T/nodes-x-ranks.sbatch" "$PROBE"
  submit nxm_mpirun --export=ALL,LAUNCHER=mpirun -N 1 --ntasks-per-node=3 --cpus-per-task=1 \
    "$T/nodes-x-ranks.sbatch" "$PROBE"
  submit launcher -n 3 --cpus-per-task=1 \
    --wrap "scripts/mpiray-run --dry-run -n 2 $QS && scripts/mpiray-run -v $QS"
  submit scaling -n 3 --cpus-per-task=1 \
    --export=ALL,REPS=2,STRONG_WORK=12,WEAK_WORK=4,APP="$APPS/scaling_app" \
    "$T/scaling-study.sbatch" "$WORK/scaling-out"

  finish per_core_srun
  local f="$WORK/per_core_srun.out"
  check "srun template: app succeeded" has "$f" '^quickstart: OK$'
  check "srun template: banner shows 3 ranks, 1 thread each from SLURM_CPUS_PER_TASK, srun" \
    has "$f" '^mpiray: 3 rank\(s\) on 1 node\(s\), 2 worker rank\(s\) x 1 thread\(s\) \(SLURM_CPUS_PER_TASK\)(, one core each[^,]*)?, launched by srun \(pmix\)'

  finish per_core_mpirun
  f="$WORK/per_core_mpirun.out"
  check "mpirun template: app succeeded" has "$f" '^quickstart: OK$'
  check "mpirun template: banner says mpirun in a Slurm allocation" \
    has "$f" '^mpiray: 3 rank\(s\) .* launched by mpirun in Slurm allocation'

  finish per_node_srun
  f="$WORK/per_node_srun.out"
  check "rank-per-node: one rank with 2 threads from --cpus-per-task" \
    has "$f" '^mpiray: 1 rank\(s\) on 1 node\(s\), 1 worker rank\(s\) x 2 thread\(s\) \(SLURM_CPUS_PER_TASK\)'
  check "rank-per-node: probe OK" has "$f" '^cluster_probe: OK$'

  for v in nxm_srun nxm_mpirun; do
    finish "$v"
    f="$WORK/$v.out"
    check "$v: probe OK with 3 ranks" has "$f" '^summary ranks=3 workers=2 '
    check "$v: objects checksummed on every worker" [ "$(count "$f" '^object .* ok$')" -eq 2 ]
    check "$v: probe printed OK" has "$f" '^cluster_probe: OK$'
  done

  finish launcher
  f="$WORK/launcher.out"
  check "mpiray-run picks srun --mpi=pmix with --cpus-per-task inside an allocation" \
    has "$f" '^\+ (MPIRAY_[A-Z_]+=[^ ]* )*srun --mpi=pmix -n 2 --cpus-per-task=1 .*/quickstart$'
  check "mpiray-run ran the app under srun" has "$f" 'launched by srun \(pmix\)'
  check "mpiray-run: app succeeded" has "$f" '^quickstart: OK$'

  finish scaling 150
  local csv
  for m in strong weak; do
    csv="$WORK/scaling-out/$m.csv"
    check "scaling study wrote $m.csv with ranks 2 and 3" \
      bash -c "[ -s '$csv' ] && grep -q '^$m,2,1,1,1,' '$csv' && grep -q '^$m,3,1,2,1,' '$csv'"
    if command -v gnuplot >/dev/null; then
      check "scaling study plotted $m.png" bash -c "head -c 8 '$WORK/scaling-out/$m.png' | od -c | grep -q 'P   N   G'"
    fi
  done
  [[ -f $WORK/scaling-out/strong.csv ]] && sed 's/^/    csv| /' "$WORK/scaling-out/strong.csv"

  ((FAILURES == 0)) || fail "$FAILURES check(s) failed"
  log "PASSED"
}

if [[ ${3:-} == --body ]]; then body; exit; fi
require_root
require_recipe local-slurm.sh
require_apps quickstart cluster_probe scaling_app
cluster_lock
rm -rf "$WORK"; mkdir -p "$WORK"
run_with_teardown 200 "$RECIPES/local-slurm.sh"
