#!/usr/bin/env bash
# Runs the quickstart with a timeline and stats, then checks the trace: valid JSON, complete
# ("X") task spans from every rank that ran tasks, named after the remote functions, with the
# actor spans of the parameter-server example, and the stats table on stderr.
#   check_timeline.sh <mpiexec> <np> <quickstart> <parameter_server>
set -euo pipefail
mpiexec="$1"; np="$2"; quickstart="$3"; ps="$4"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {
  if [[ "$np" == 1 ]]; then "$@"; else "$mpiexec" -n "$np" --oversubscribe "$@"; fi
}
MPIRAY_STATS=1 run "$quickstart" --mpiray-timeline "$dir/q.json" >"$dir/out" 2>"$dir/err"
grep -q "quickstart: OK" "$dir/out"
grep -q "timeline written to $dir/q.json" "$dir/err"
grep -q "scheduler queue high-water mark" "$dir/err"
# Ranks of one node talk through the shared rings: every row with messages shows a share > 0.
if [[ "$np" != 1 ]]; then
  awk '/^ +[0-9]+ +[0-9]+ / && $9 > 0 { n++; if ($10 + 0 <= 0) bad++ } END { exit !(n > 0 && !bad) }' "$dir/err"
fi
MPIRAY_TIMELINE="$dir/p.json" run "$ps" --iters 3 --shards 4 --samples 64 >/dev/null 2>&1
python3 - "$dir/q.json" "$dir/p.json" "$np" <<'PY'
import json, sys
q = json.load(open(sys.argv[1]))["traceEvents"]
p = json.load(open(sys.argv[2]))["traceEvents"]
np = int(sys.argv[3])
spans = [e for e in q if e.get("ph") == "X"]
assert spans, "no spans"
for e in spans:
    assert e["dur"] >= 0 and "ts" in e and "tid" in e, e
names = {e["name"] for e in spans if e["cat"] == "task"}
for want in ("square", "fib", "checked_sqrt", "greet"):
    assert want in names, (want, sorted(names))
task_ranks = {e["pid"] for e in spans if e["cat"] == "task"}
expect = {0} if np == 1 else set(range(1, np))
assert task_ranks == expect, (task_ranks, expect)
assert {e["args"]["name"] for e in q if e.get("ph") == "M"} >= {"rank %d" % r for r in range(np)}
# Rank 0's dispatch work, with the number of tasks it sent (every task was sent by one of them).
disp = [e for e in spans if e["cat"] == "sched"]
assert disp and all(e["name"] == "dispatch" and e["pid"] == 0 for e in disp), disp[:3]
assert sum(e["args"]["bytes"] for e in disp) >= sum(1 for e in spans if e["cat"] == "task"), (
    sum(e["args"]["bytes"] for e in disp))
actor = [e for e in p if e.get("cat") == "actor"]
assert any("ParameterServer::push" in e["name"] for e in actor), sorted({e["name"] for e in actor})
print("timeline ok: %d task spans on ranks %s, %d actor spans" % (len(spans), sorted(task_ranks), len(actor)))
PY
