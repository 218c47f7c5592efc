"""Python multiprocessing.Pool with 2 worker processes: the same workloads as mpiray's benchmarks.

  python3 mp_pool_bench.py [--quick] [--reps R] [--async-tasks N] [--sync-tasks N]
                           [--map-items N] [--pi-tasks N] [--workers W]

Prints metric= lines (medians of --reps runs):
  tasks_async     apply_async(empty, (i,)) N times, then get() every result
  tasks_sync      apply(empty, (i,)) one at a time (a synchronous round trip)
  pi_wall_s       map(count_inside, range(200)) with chunksize 1 (numpy, 1e6 points per task)
  pool_map_items  map(empty, range(N)) with Pool.map's default chunking
"""
import multiprocessing as mp
import sys

import peer_tasks as pt


def main(argv):
    o = pt.parse_args(argv, dict(reps=3, workers=2, async_tasks=50_000, sync_tasks=5_000,
                                 map_items=1_000_000, pi_tasks=200))
    pt.note(f"multiprocessing.Pool({o['workers']}), python {sys.version.split()[0]}, reps={o['reps']}")
    with mp.Pool(o["workers"]) as pool:
        pool.map(pt.empty, range(1000))  # warm-up: workers started

        def run_async():
            n = o["async_tasks"]
            def body():
                rs = [pool.apply_async(pt.empty, (i,)) for i in range(n)]
                assert sum(r.get() for r in rs) == n * (n - 1) // 2
            return n / pt.timed(body)
        pt.metric("tasks_async", pt.median_of(o["reps"], run_async), "tasks/s")

        def run_sync():
            n = o["sync_tasks"]
            def body():
                for i in range(n):
                    assert pool.apply(pt.empty, (i,)) == i
            return n / pt.timed(body)
        pt.metric("tasks_sync", pt.median_of(o["reps"], run_sync), "tasks/s")

        if pt.np is None:
            pt.note("pi: n/a (numpy is not installed for this python)")
        else:
            def run_pi():
                counts = []
                secs = pt.timed(lambda: counts.extend(pool.map(pt.count_inside, range(o["pi_tasks"]), 1)))
                pt.check_pi(counts, o["pi_tasks"])
                return secs
            pt.metric("pi_wall_s", pt.median_of(o["reps"], run_pi), "s")

        def run_map():
            n = o["map_items"]
            def body():
                assert sum(pool.map(pt.empty, range(n))) == n * (n - 1) // 2
            return n / pt.timed(body)
        pt.metric("pool_map_items", pt.median_of(o["reps"], run_map), "items/s")


if __name__ == "__main__":
    main(sys.argv[1:])
