# shellcheck shell=bash
# Shared helpers of the cluster tests (sourced). Each test script is called by CTest as
#   TEST.sh SOURCE_DIR BUILD_DIR
# and exits 0 (pass), 1 (fail) or 77 (skipped, with the reason printed).

SRC_DIR="$(cd "${1:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)"
BUILD_DIR="$(cd "${2:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)"
APPS="$BUILD_DIR/apps"
# The reference recipes live beside the project (../shared/recipes); they are called, not copied.
RECIPES="${MPIRAY_RECIPES_DIR:-$SRC_DIR/../shared/recipes}"

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$(basename "$0" .sh)" -1 "$*"; }
skip() { log "SKIPPED: $*"; exit 77; }
fail() { log "FAILED: $*"; exit 1; }

FAILURES=0
# check DESCRIPTION COMMAND...: runs COMMAND, records a failure instead of stopping.
check() {
  local what=$1; shift
  if "$@"; then log "ok   - $what"; else log "FAIL - $what"; FAILURES=$((FAILURES + 1)); fi
}
# has FILE REGEX: the file has a line matching the extended regex.
has() { grep -Eq -- "$2" "$1"; }
# count FILE REGEX: number of matching lines.
count() { grep -Ec -- "$2" "$1" || true; }
# field FILE KEY: value of KEY=... on the last `summary` line.
summary_field() { sed -n "s/^summary .*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" | tail -1; }

require_root() {
  [[ ${MPIRAY_CLUSTER_TESTS:-1} != 0 ]] || skip "MPIRAY_CLUSTER_TESTS=0: real Slurm / multi-host tests switched off"
  [[ $(id -u) -eq 0 ]] || skip "needs root (starts daemons, network namespaces, apt-get); CI runs it as root"
}
require_recipe() {  # require_recipe NAME
  [[ -x $RECIPES/$1 ]] || skip "recipe $RECIPES/$1 not found (set MPIRAY_RECIPES_DIR to the shared/recipes directory)"
}
# require_caps: CAP_SYS_ADMIN and CAP_NET_ADMIN (namespaces, bridge), i.e. a VM or a privileged
# container; checked from /proc so nothing is created to find out.
require_caps() {
  local eff
  eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (0x$eff >> 21) & 1 && (0x$eff >> 12) & 1 )) \
    || skip "needs CAP_SYS_ADMIN and CAP_NET_ADMIN for network namespaces (a VM or privileged container)"
}
require_apps() {
  local a
  for a in "$@"; do [[ -x $APPS/$a ]] || fail "$APPS/$a not built"; done
}

# wait_job ID TIMEOUT_S: polls until the Slurm job ends; prints its final state.
wait_job() {
  local id=$1 tmo=${2:-120} st="" i
  for ((i = 0; i < tmo * 4; i++)); do
    st=$(squeue -h -t all -j "$id" -o %T 2>/dev/null || true)
    case "$st" in
      COMPLETED|FAILED|CANCELLED*|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) echo "$st"; return 0 ;;
    esac
    sleep 0.25
  done
  echo "WAIT_TIMEOUT(${st:-unknown})"
}

# submit NAME SBATCH_ARGS...: sbatch from the source directory (the templates' relative paths),
# output into $WORK/NAME.out; remembers the job id in JOB_<NAME>.
submit() {
  local name=$1 id; shift
  id=$(cd "$SRC_DIR" && sbatch --parsable --job-name="mpiray-test-$name" -o "$WORK/$name.out" "$@") || fail "sbatch $name"
  id=${id%%;*}
  printf -v "JOB_$name" '%s' "$id"
  log "submitted $name as job $id: sbatch $*"
}
# finish NAME: waits for the job, prints its output, checks it COMPLETED.
finish() {
  local name=$1 var="JOB_$1" st
  st=$(wait_job "${!var}" "${2:-120}")
  log "job $name (${!var}) ended: $st"
  sed "s/^/    | /" "$WORK/$name.out" 2>/dev/null || log "(no output file $WORK/$name.out)"
  check "job $name completed" [ "$st" = COMPLETED ]
}

# cluster_lock: one cluster test at a time on this machine, also across build directories and
# ctest runs (RESOURCE_LOCK only covers one ctest): a second one waits, then skips rather than
# tearing down a cluster the first one is using. Held on fd 9 until the script exits.
cluster_lock() {
  local lock=/run/lock/mpiray-cluster-test.lock
  [[ -d /run/lock ]] || lock=/tmp/mpiray-cluster-test.lock
  exec 9>"$lock"
  if ! flock -n 9; then
    log "another mpiray cluster test holds $lock; waiting up to 240 s"
    flock -w 240 9 || skip "another mpiray cluster test kept $lock for 240 s"
  fi
}

# run_with_teardown BUDGET_S RECIPE: the common skeleton. Brings the cluster up (RECIPE up), runs
# this script again with --body under `timeout` (its whole process group is killed when the
# budget runs out, so CTest's own TIMEOUT, set higher, never cuts the tear-down short), and
# always tears down with RECIPE down (EXIT trap: also on failure, Ctrl-C or SIGTERM).
run_with_teardown() {
  local budget=${MPIRAY_CLUSTER_TEST_BUDGET:-$1} rc=0
  RECIPE=$2
  trap 'rc=$?; trap - EXIT INT TERM; log "tear-down: $RECIPE down"; "$RECIPE" down >"$WORK/teardown.log" 2>&1 9>&- || { log "tear-down reported an error:"; cat "$WORK/teardown.log"; }; log "tear-down done"; exit $rc' EXIT
  # On SIGTERM/Ctrl-C: stop the running step first (timeout passes the signal to its whole
  # process group), then the EXIT trap tears down.
  trap 'log "interrupted"; [[ -n ${STEP_PID:-} ]] && kill -TERM "$STEP_PID" 2>/dev/null && wait "$STEP_PID"; exit 143' INT TERM
  log "bring-up: $RECIPE up"
  # 9>&-: the daemons that `up` starts must not inherit (and so keep) the lock
  timeout -k 10 180 "$RECIPE" up >"$WORK/up.log" 2>&1 9>&- &
  STEP_PID=$!
  if ! wait "$STEP_PID"; then
    cat "$WORK/up.log"; fail "bring-up failed: $RECIPE up"
  fi
  tail -3 "$WORK/up.log"
  timeout -k 10 "$budget" bash "$0" "$SRC_DIR" "$BUILD_DIR" --body 9>&- &
  STEP_PID=$!
  wait "$STEP_PID" || rc=$?
  STEP_PID=""
  ((rc == 124 || rc == 137)) && log "FAILED: test body exceeded its ${budget} s budget"
  exit "$rc"
}
