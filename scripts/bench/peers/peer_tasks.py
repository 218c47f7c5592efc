"""Task bodies shared by the peer benchmarks (imported by the workers, so they travel by name).

The same workloads as mpiray's benchmarks:
  empty(x)         returns its argument           (bench_tasks, bench_pool)
  count_inside(i)  Monte-Carlo pi: points of task i's own random stream inside the quarter
                   circle, 1e6 points per task    (apps/pi), vectorised with numpy
"""
import math
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:  # the pi row then reports n/a
    np = None

PI_POINTS = 1_000_000
PI_SEED = 2024


def empty(x):
    return x


def count_inside(i, points=PI_POINTS, seed=PI_SEED):
    rng = np.random.Generator(np.random.PCG64([seed, i]))
    x = rng.random(points)
    y = rng.random(points)
    return int(np.count_nonzero(x * x + y * y <= 1.0))


def metric(name, value, unit):
    print(f"metric={name} value={value:.6g} unit={unit}", flush=True)


def note(text):
    print(f"# {text}", flush=True)


def median_of(reps, fn):
    """Runs fn() `reps` times and returns the median of its return values."""
    return statistics.median(fn() for _ in range(reps))


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def check_pi(counts, tasks, points=PI_POINTS):
    est = 4.0 * sum(counts) / (tasks * points)
    if abs(est - math.pi) > 0.01:
        print(f"# WRONG: pi estimate {est}", file=sys.stderr)
        sys.exit(1)
    return est


def parse_args(argv, defaults):
    """--name value options over a dict of integer defaults; --quick shrinks every size by 10."""
    opts = dict(defaults)
    quick = "--quick" in argv
    for k in list(opts):
        flag = "--" + k.replace("_", "-")
        if flag in argv:
            opts[k] = int(argv[argv.index(flag) + 1])
        elif quick and k != "reps" and k != "workers":
            opts[k] = max(1, opts[k] // 10)
    return opts
