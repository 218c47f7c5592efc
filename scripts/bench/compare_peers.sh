#!/usr/bin/env bash
# compare_peers.sh: mpiray's benchmarks next to the same workloads in the tools users compare it
# with — mpi4py.futures, Python's multiprocessing.Pool and Dask distributed — on this machine, as
# one table. Every system uses one driver plus 2 workers (mpirun/mpiexec -n 3, Pool(2),
# LocalCluster with 2 worker processes of 1 thread).
#
#   scripts/bench/compare_peers.sh [--install] [--quick] [--build-dir DIR] [--python PY] [--np N]
#
#   --install        apt-get install the peers' Debian packages first (python3-mpi4py,
#                    python3-dask, python3-distributed, and python3-numpy for the pi workload)
#   --quick          every size / 10 (a smoke run; the numbers are then less meaningful)
#   --build-dir DIR  mpiray build directory (default $MPIRAY_BUILD_DIR, else build/); the three
#                    benchmarks are built there if missing
#   --python PY      the Python with the Debian packages (default /usr/bin/python3: Debian's
#                    packages install for the system Python, not for a pyenv one)
#   --np N           ranks for mpiray and mpi4py.futures (default 3: driver + 2 workers)
#   --out FILE       also write a Markdown page: date, machine, how to rerun, the table
#
# Rows (each system's own medians of 3 runs):
#   empty-task throughput  tasks/s: submit N empty tasks, then wait for all
#   sync round trip        µs per task: submit one empty task and wait for it, repeatedly
#   Monte-Carlo pi         wall s: 200 tasks x 1e6 points (C++ in mpiray, numpy in the peers)
#   map throughput         items/s: map an identity function over 1e6 items, default chunking
# A peer that cannot run is shown as n/a with the reason. Peer scripts: scripts/bench/peers/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
peers="$root/scripts/bench/peers"
# shellcheck source=../mpi_env.sh
source "$root/scripts/mpi_env.sh"

install=0 quick=0 np=3 out=""
build="${MPIRAY_BUILD_DIR:-$root/build}"
py=/usr/bin/python3
while (($#)); do
  case "$1" in
    --install) install=1 ;;
    --quick) quick=1 ;;
    --build-dir) build="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift ;;
    --python) py="$2"; shift ;;
    --np) np="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "compare_peers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -x "$py" ]] || py="$(command -v python3)"
mpi_flags="$(mpiray_mpirun_flags "$np")"
quick_flag=()
((quick)) && quick_flag=(--quick)
work="$(mktemp -d)"
load_before="$(cut -d' ' -f1 /proc/loadavg)"
trap 'rm -rf "$work"' EXIT

# ---- the peers' packages
pkgs=(python3-mpi4py python3-dask python3-distributed python3-numpy)
if ((install)); then
  echo "== installing ${pkgs[*]}" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
fi
# Why a package is missing: not installed (and whether Debian has it), for the n/a reasons.
missing_reason() {
  local pkg="$1" cand
  cand="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [[ -z "$cand" || "$cand" == "(none)" ]]; then
    echo "no Debian package $pkg on this machine"
  elif dpkg -s "$pkg" >/dev/null 2>&1; then
    echo "$pkg is installed for /usr/bin/python3, not for $py (see --python)"
  else
    echo "$pkg not installed (Debian has $cand; rerun with --install)"
  fi
}
has_module() { "$py" -c "import $1" >/dev/null 2>&1; }

# ---- mpiray
targets=(bench_tasks bench_pool pi)
need_build=0
for t in "${targets[@]}"; do
  case "$t" in pi) bin="$build/apps/pi" ;; *) bin="$build/apps/bench/$t" ;; esac
  [[ -x "$bin" ]] || need_build=1
done
if ((need_build)); then
  echo "== building ${targets[*]} in $build" >&2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  for t in "${targets[@]}"; do cmake --build "$build" -j "$(nproc)" --target "$t" >&2 || true; done
fi
run_mpi() { mpirun -np "$np" $mpi_flags "$@"; }
{
  echo "# system=mpiray"
  if ((quick)); then
    run_mpi "$build/apps/bench/bench_tasks" --tasks 20000 --sync-tasks 2000 --reps 3
  else
    run_mpi "$build/apps/bench/bench_tasks" --reps 3
  fi
  if [[ -x "$build/apps/pi" ]]; then
    run_mpi "$build/apps/pi" --reps 3 $( ((quick)) && echo --tasks 20 )
  else
    echo "# n/a pi: apps/pi is not built"
  fi
  if [[ -x "$build/apps/bench/bench_pool" ]]; then
    run_mpi "$build/apps/bench/bench_pool" --reps 3 $( ((quick)) && echo --items 100000 )
  else
    echo "# n/a map: bench_pool is not built"
  fi
} >"$work/mpiray.txt" 2>&1 || echo "# n/a: an mpiray benchmark failed (exit $?)" >>"$work/mpiray.txt"
echo "== mpiray done" >&2

# ---- peers: each script prints the same metric= lines
export PYTHONPATH="$peers${PYTHONPATH:+:$PYTHONPATH}"
run_peer() {  # name, python module needed, Debian package, command...
  local name="$1" mod="$2" pkg="$3"
  shift 3
  local file="$work/$name.txt"
  if ! has_module "$mod"; then
    echo "# n/a: $(missing_reason "$pkg")" >"$file"
  elif ! timeout 900 "$@" "${quick_flag[@]}" >"$file" 2>"$work/$name.err"; then
    local why
    why="$(grep -E 'Error|error|Exception' "$work/$name.err" | tail -1)"
    [[ -n "$why" ]] || why="$(grep -v -E '^\s*$|^-+$' "$work/$name.err" | tail -1)"
    echo "# n/a: failed: ${why:-no output}" >>"$file"
  fi
  echo "== $name done" >&2
}
run_peer mpi4py_futures mpi4py python3-mpi4py \
  mpiexec -n "$np" $mpi_flags -x PYTHONPATH "$py" -m mpi4py.futures "$peers/mpi4py_futures_bench.py"
run_peer multiprocessing multiprocessing python3 "$py" "$peers/mp_pool_bench.py" --workers $((np - 1))
run_peer dask distributed python3-distributed "$py" "$peers/dask_bench.py" --workers $((np - 1))

# ---- the table
"$py" - "$work" "$(nproc)" "$np" "$quick" >"$work/table.md" <<'EOF'
import os, re, sys
work, cores, np_, quick = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
systems = [("mpiray", "mpiray"), ("mpi4py_futures", "mpi4py.futures"),
           ("multiprocessing", "multiprocessing.Pool"), ("dask", "Dask distributed")]
vals, notes = {}, {}
for key, _ in systems:
    text = open(os.path.join(work, key + ".txt")).read()
    vals[key] = {m.group(1): float(m.group(2))
                 for m in re.finditer(r"^metric=(\S+) value=(\S+)", text, re.M)}
    notes[key] = [l[2:] for l in text.splitlines() if l.startswith("# n/a") or
                  (l.startswith("# ") and key != "mpiray")]
    if key == "mpiray":
        notes[key] = [l[2:] for l in text.splitlines() if l.startswith("# n/a")]
# (row label, metric, unit, transform, higher is better)
rows = [("empty-task throughput", "tasks_async", "tasks/s", lambda v: v, True),
        ("sync round trip", "tasks_sync", "µs", lambda v: 1e6 / v, False),
        ("Monte-Carlo π, 200 tasks × 1e6 points", "pi_wall_s", "s wall", lambda v: v, False),
        ("map throughput (1e6 items)", "pool_map_items", "items/s", lambda v: v, True)]

def fmt(v):
    if v >= 1e6: return f"{v / 1e6:.3g} M"
    if v >= 1e4: return f"{v / 1e3:.3g} k"
    if v >= 1e3: return f"{v:,.0f}"
    return f"{v:.3g}"

def fmt_ratio(r):
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"

def reason(key, metric):
    for n in notes[key]:
        if n.startswith("n/a"):
            return n
    if key != "mpiray" and metric == "pi_wall_s":
        for n in notes[key]:
            if n.startswith("pi: n/a"):
                return n
    return "n/a: no result"

head = ["workload", "unit"] + [label for _, label in systems]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for label, metric, unit, f, higher in rows:
    cells = [label, unit]
    base = vals["mpiray"].get(metric)
    for key, _ in systems:
        v = vals[key].get(metric)
        if v is None:
            cells.append(reason(key, metric))
            continue
        x = f(v)
        if key == "mpiray" or base is None:
            cells.append(fmt(x))
        else:
            b = f(base)
            r = b / x if higher else x / b
            cells.append(f"{fmt(x)} (mpiray {fmt_ratio(r)}×)")
    print("| " + " | ".join(cells) + " |")
print()
print(f"(mpiray N×) = how many times faster mpiray is than that peer on the row (below 1: slower).")
print(f"Machine: {cores} cores; mpiray and mpi4py.futures at -np {np_} (driver + {int(np_) - 1} workers),"
      f" Pool({int(np_) - 1}), LocalCluster({int(np_) - 1} processes x 1 thread). Medians of 3 runs each.")
if quick:
    print("--quick: every size was divided by 10 (pi: 20 tasks), so these numbers are a smoke test only.")
for key, label in systems[1:]:
    for n in notes[key]:
        if not n.startswith("n/a"):
            print(f"- {label}: {n}")
EOF
cat "$work/table.md"
if [[ -n "$out" ]]; then
  {
    echo "# mpiray and its peers on one machine"
    echo
    echo "Generated by \`scripts/bench/compare_peers.sh\` on $(date)."
    echo
    echo "Machine: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores,"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM,"
    echo "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(mpirun --version 2>/dev/null | head -1),"
    echo "$("$py" --version 2>&1) (Debian's, for the peers). 1-minute load average before / after"
    echo "the run: $load_before / $(cut -d' ' -f1 /proc/loadavg) — the machine is shared with other jobs, so"
    echo "every number is noisy; each is the median of 3 runs."
    echo
    cat "$work/table.md"
    echo
    echo "Workloads (the same on every system; scripts in \`scripts/bench/peers/\`):"
    echo
    echo "- **empty-task throughput**: submit N tasks of a function returning its argument, then wait"
    echo "  for all (mpiray: \`bench_tasks\` \`tasks_async\`, 200,000 tasks; mpi4py.futures \`submit\`,"
    echo "  10,000; \`Pool.apply_async\`, 50,000; Dask \`client.map(pure=False)\` + \`gather\`, 5,000)."
    echo "- **sync round trip**: one task at a time, submit and wait (mpiray \`tasks_sync\`;"
    echo "  \`submit().result()\`; \`Pool.apply\`; \`client.submit().result()\`), shown as µs per task."
    echo "- **Monte-Carlo π**: 200 tasks × 10⁶ random points each, one task per chunk (mpiray: \`apps/pi\`,"
    echo "  C++ xoshiro256**; the peers: numpy's PCG64, vectorised), wall time from submit to last result."
    echo "- **map throughput**: map an identity function over 10⁶ integers with default chunking"
    echo "  (mpiray \`Pool.map\`, \`bench_pool\` \`pool_map_items\`; \`Pool.map\`; mpi4py.futures \`map\`"
    echo "  with chunksize ⌈N / (4 × workers)⌉, Python's Pool default, since its own default of 1 does"
    echo "  ~5,000 items/s; Dask: \`dask.bag.from_sequence(npartitions=4 × workers).map\`). Items start"
    echo "  on the driver in every system; for Dask most of the time is moving 10⁶ Python ints from the"
    echo "  client through the scheduler (the same map over \`dask.bag.range\`, generated on the"
    echo "  workers, ran at about 3.5 M items/s)."
    echo "- The π row compares C++ with numpy as much as the runtimes; the other rows are runtime"
    echo "  overhead only. mpiray's sync round trip and π time come from the same launches as its"
    echo "  plain-MPI references (\`bench_tasks\`, \`apps/pi\`), which print those ratios too."
    echo
    echo "Rerun: \`scripts/bench/compare_peers.sh --install --out docs/peer_comparison.md\`"
    echo "(\`--install\` apt-installs python3-mpi4py, python3-dask, python3-distributed, python3-numpy)."
  } >"$out"
  echo "== wrote $out" >&2
fi
