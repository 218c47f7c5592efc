"""Dask distributed on a LocalCluster (2 worker processes, 1 thread each): the same workloads as
mpiray's benchmarks.

  python3 dask_bench.py [--quick] [--reps R] [--async-tasks N] [--sync-tasks N] [--map-items N]

Prints metric= lines (medians of --reps runs):
  tasks_async     client.map(empty, range(N), pure=False), then client.gather
  tasks_sync      client.submit(empty, i, pure=False).result() one at a time
  pi_wall_s       client.map(count_inside, range(200)) + gather (numpy, 1e6 points per task)
  pool_map_items  dask.bag.from_sequence(range(N), npartitions=4 x workers).map(empty).sum()
                  on the cluster: Dask's way to map over many small items in chunks
                  (client.map makes one task per item, about 1,000 items/s)
"""
import sys
import warnings

import peer_tasks as pt


def main(argv):
    o = pt.parse_args(argv, dict(reps=3, workers=2, async_tasks=5_000, sync_tasks=300,
                                 map_items=1_000_000, pi_tasks=200))
    warnings.filterwarnings("ignore")
    import dask
    import dask.bag as db
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=o["workers"], threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pt.note(f"dask.distributed LocalCluster({o['workers']} worker processes x 1 thread), "
                f"dask {dask.__version__}, reps={o['reps']}")
        client.gather(client.map(pt.empty, range(100), pure=False))  # warm-up

        def run_async():
            n = o["async_tasks"]
            def body():
                assert sum(client.gather(client.map(pt.empty, range(n), pure=False))) == n * (n - 1) // 2
            return n / pt.timed(body)
        pt.metric("tasks_async", pt.median_of(o["reps"], run_async), "tasks/s")

        def run_sync():
            n = o["sync_tasks"]
            def body():
                for i in range(n):
                    assert client.submit(pt.empty, i, pure=False).result() == i
            return n / pt.timed(body)
        pt.metric("tasks_sync", pt.median_of(o["reps"], run_sync), "tasks/s")

        if pt.np is None:
            pt.note("pi: n/a (numpy is not installed for this python)")
        else:
            def run_pi():
                counts = []
                secs = pt.timed(lambda: counts.extend(
                    client.gather(client.map(pt.count_inside, range(o["pi_tasks"]), pure=False))))
                pt.check_pi(counts, o["pi_tasks"])
                return secs
            pt.metric("pi_wall_s", pt.median_of(o["reps"], run_pi), "s")

        def run_map():
            n = o["map_items"]
            def body():
                bag = db.from_sequence(range(n), npartitions=4 * o["workers"]).map(pt.empty)
                assert bag.sum().compute() == n * (n - 1) // 2
            return n / pt.timed(body)
        pt.metric("pool_map_items", pt.median_of(o["reps"], run_map), "items/s")


if __name__ == "__main__":
    main(sys.argv[1:])
