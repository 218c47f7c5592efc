#!/usr/bin/env bash
# Real multi-host runs: ../shared/recipes/netns-cluster.sh makes 3 hosts (network namespaces
# node1..node3 with their own IPs 10.77.0.11-13 and hostnames) and a multi-node Slurm on them.
# Runs cluster_probe across the hosts with `mpirun --hostfile` over TCP, with scripts/mpiray-run,
# and with `sbatch -N 3` of the project's templates (srun and mpirun), plus a small scaling
# study across hosts, and asserts that tasks ran on 3 distinct hostnames and that objects moved
# between hosts intact (checksums). Needs root; tears the cluster down whatever happens.
#   tests/cluster/netns_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WORK="$BUILD_DIR/cluster-tests/netns"
STATE=/run/netns-cluster

# probe_checks FILE LABEL RANKS TASK_HOSTS: what every multi-host probe run must show.
probe_checks() {
  local f=$1 what=$2 np=$3 hosts=$4
  check "$what: probe OK" has "$f" '^cluster_probe: OK$'
  check "$what: $np ranks on 3 hosts, tasks on $hosts distinct hostnames" \
    has "$f" "^summary ranks=$np workers=$((np - 1)) distinct_hosts=3 task_hosts=$hosts "
  check "$what: worker hostnames are node1..node3" \
    [ "$(sed -n 's/^host rank=[1-9][0-9]* name=\(node[0-9]\) .*role=worker$/\1/p' "$f" | sort -u | wc -l)" -eq "$hosts" ]
  check "$what: a put() object reached every worker intact" \
    [ "$(count "$f" '^object from=0 .* ok$')" -eq $((np - 1)) -a "$(count "$f" ' BAD$')" -eq 0 ]
  check "$what: objects crossed hosts (driver -> other host >= 2, worker -> other host >= 2)" \
    [ "$(summary_field "$f" cross_host_objects)" -ge 2 -a "$(summary_field "$f" cross_host_moves)" -ge 2 ]
  check "$what: banner counts 3 nodes" has "$f" "^mpiray: $np rank\\(s\\) on 3 node\\(s\\)"
}

body() {
  # shellcheck disable=SC1091
  source "$STATE/env.sh"      # OMPI_MCA_* (rsh agent, tcp over the bridge), SLURM_CONF
  local PROBE="$APPS/cluster_probe" T="$SRC_DIR/scripts/slurm" f
  log "hostfile: $(tr '\n' ' ' <"$NETNS_HOSTFILE")"

  log "1. mpirun --hostfile over TCP: 4 ranks mapped by node (driver + worker on node1)"
  f="$WORK/mpirun.out"
  (cd "$WORK" && timeout 120 mpirun -np 4 --map-by node --hostfile "$NETNS_HOSTFILE" \
      "$PROBE" --expect-hosts 3) >"$f" 2>&1
  check "mpirun exit code 0" [ $? -eq 0 ]
  sed 's/^/    | /' "$f"
  probe_checks "$f" "mpirun --hostfile" 4 3

  log "2. scripts/mpiray-run --hostfile: 6 ranks, 2 per node"
  f="$WORK/mpiray-run.out"
  (cd "$WORK" && timeout 120 "$SRC_DIR/scripts/mpiray-run" -v --hostfile "$NETNS_HOSTFILE" -n 6 -p 2 \
      "$PROBE" --expect-hosts 3) >"$f" 2>&1
  check "mpiray-run exit code 0" [ $? -eq 0 ]
  sed 's/^/    | /' "$f"
  check "mpiray-run: mpirun with the hostfile, 2 per node, no --oversubscribe (6 slots)" \
    has "$f" '^\+ .*mpirun -np 6 --allow-run-as-root --hostfile [^ ]+ --map-by ppr:2:node '
  probe_checks "$f" "mpiray-run --hostfile" 6 3

  log "3. mpiray-scale across the hosts (strong, ranks 2 and 4, 1 repetition)"
  (cd "$WORK" && timeout 120 "$SRC_DIR/scripts/scaling/mpiray-scale" --mode strong --ranks "2 4" --reps 1 \
      --strong-work 12 --hostfile "$NETNS_HOSTFILE" --app "$APPS/scaling_app" --out "$WORK/scale" --no-plot) \
      >"$WORK/scale.out" 2>&1
  check "mpiray-scale exit code 0" [ $? -eq 0 ]
  sed 's/^/    | /' "$WORK/scale.out"
  check "scaling CSV: 4 ranks spread over 3 nodes" grep -q '^strong,4,3,3,1,12,1,' "$WORK/scale/strong.csv"

  log "4. sbatch -N 3 on the multi-node Slurm: the project's templates"
  submit nxm_srun -N 3 --ntasks-per-node=2 --cpus-per-task=1 "$T/nodes-x-ranks.sbatch" "$PROBE" --expect-hosts 3
  submit nxm_mpirun --export=ALL,LAUNCHER=mpirun -N 3 --ntasks-per-node=2 --cpus-per-task=1 \
    "$T/nodes-x-ranks.sbatch" "$PROBE" --expect-hosts 3
  submit per_node_srun -N 3 --cpus-per-task=2 "$T/rank-per-node.sbatch" "$PROBE" --expect-hosts 2
  finish nxm_srun
  probe_checks "$WORK/nxm_srun.out" "sbatch -N 3 nodes-x-ranks (srun)" 6 3
  check "srun: launched by srun, 1 thread per rank from --cpus-per-task" \
    has "$WORK/nxm_srun.out" 'x 1 thread\(s\) \(SLURM_CPUS_PER_TASK\)(, one core each[^,]*)?, launched by srun \(pmix\)'
  finish nxm_mpirun
  probe_checks "$WORK/nxm_mpirun.out" "sbatch -N 3 nodes-x-ranks (mpirun)" 6 3
  finish per_node_srun
  probe_checks "$WORK/per_node_srun.out" "sbatch -N 3 rank-per-node (srun)" 3 2
  check "rank-per-node: 2 threads per rank from --cpus-per-task" \
    has "$WORK/per_node_srun.out" 'x 2 thread\(s\) \(SLURM_CPUS_PER_TASK\)'

  ((FAILURES == 0)) || fail "$FAILURES check(s) failed"
  log "PASSED"
}

if [[ ${3:-} == --body ]]; then body; exit; fi
require_root
require_recipe netns-cluster.sh
require_caps
if ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
  skip "needs iproute2 and util-linux (ip, nsenter)"
fi
require_apps cluster_probe scaling_app
cluster_lock
rm -rf "$WORK"; mkdir -p "$WORK"
run_with_teardown 200 "$RECIPES/netns-cluster.sh"
