"""mpi4py.futures (MPIPoolExecutor): the same workloads as mpiray's benchmarks.

  mpiexec -n 3 python3 -m mpi4py.futures mpi4py_futures_bench.py [--quick] [--reps R] ...

Rank 0 runs this script, ranks 1..N-1 are the pool's workers (as mpiray's layout). Prints
metric= lines (medians of --reps runs):
  tasks_async     submit(empty, i) N times, then result() of every future
  tasks_sync      submit(empty, i).result() one at a time (a synchronous round trip)
  pi_wall_s       map(count_inside, range(200)) (chunksize 1; numpy, 1e6 points per task)
  pool_map_items  map(empty, range(N), chunksize=ceil(N / (4 x workers))): the default chunking
                  of multiprocessing.Pool and mpiray's Pool (mpi4py's own default, chunksize 1,
                  does about 5,000 items/s here)
"""
import math
import sys

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor

import peer_tasks as pt


def main(argv):
    o = pt.parse_args(argv, dict(reps=3, async_tasks=10_000, sync_tasks=2_000,
                                 map_items=1_000_000, pi_tasks=200))
    with MPIPoolExecutor() as ex:
        workers = max(1, MPI.COMM_WORLD.Get_size() - 1)  # command-line mode: ranks 1..N-1
        pt.note(f"mpi4py.futures MPIPoolExecutor, {workers} worker rank(s), mpi4py "
                f"{__import__('mpi4py').__version__}, {MPI.Get_library_version().splitlines()[0]}, "
                f"reps={o['reps']}")
        list(ex.map(pt.empty, range(100)))  # warm-up

        def run_async():
            n = o["async_tasks"]
            def body():
                fs = [ex.submit(pt.empty, i) for i in range(n)]
                assert sum(f.result() for f in fs) == n * (n - 1) // 2
            return n / pt.timed(body)
        pt.metric("tasks_async", pt.median_of(o["reps"], run_async), "tasks/s")

        def run_sync():
            n = o["sync_tasks"]
            def body():
                for i in range(n):
                    assert ex.submit(pt.empty, i).result() == i
            return n / pt.timed(body)
        pt.metric("tasks_sync", pt.median_of(o["reps"], run_sync), "tasks/s")

        if pt.np is None:
            pt.note("pi: n/a (numpy is not installed for this python)")
        else:
            def run_pi():
                counts = []
                secs = pt.timed(lambda: counts.extend(ex.map(pt.count_inside, range(o["pi_tasks"]))))
                pt.check_pi(counts, o["pi_tasks"])
                return secs
            pt.metric("pi_wall_s", pt.median_of(o["reps"], run_pi), "s")

        def run_map():
            n = o["map_items"]
            chunk = max(1, math.ceil(n / (4 * workers)))
            def body():
                assert sum(ex.map(pt.empty, range(n), chunksize=chunk)) == n * (n - 1) // 2
            return n / pt.timed(body)
        pt.metric("pool_map_items", pt.median_of(o["reps"], run_map), "items/s")


if __name__ == "__main__":
    main(sys.argv[1:])
