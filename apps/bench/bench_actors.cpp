// bench_actors: actor-call throughput of mpiray against plain-MPI request/reply, measured in the
// same launch, repetitions interleaved.
//
//   mpirun -np 3 --oversubscribe ./build/apps/bench/bench_actors [--calls N] [--sync-calls N] [--reps R]
//
// Metrics (medians):
//   actor_calls_sync       driver -> one actor, one call at a time   (raw: ping-pong to one rank)
//   actor_calls_async      driver -> one actor, N calls then get all (raw: 8 requests in flight)
//   actor_calls_n_n        n tasks, each calling its own actor on another rank, N/n calls each
//                          (raw: rank 0 keeping 8 requests in flight to every worker)
//   *_raw_mpi, *_ratio

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include "bench_common.hpp"

#include <string>
#include <vector>

namespace {

using namespace bench;

class Sink {
 public:
  Sink() = default;
  std::int64_t put(std::int64_t x) {
    sum_ += x;
    return x;
  }

 private:
  std::int64_t sum_ = 0;
};
MPIRAY_ACTOR(Sink);
MPIRAY_REMOTE(&Sink::put);

// One caller of the n:n pattern: runs on a worker, streams calls to its own actor.
std::int64_t drive_actor(mpiray::ActorHandle<Sink> a, std::int64_t calls) {
  std::vector<mpiray::ObjectRef<std::int64_t>> refs;
  refs.reserve(calls);
  for (std::int64_t i = 0; i < calls; ++i) refs.push_back(a.task(&Sink::put).remote(i));
  std::int64_t sum = 0;
  for (auto& r : refs) sum += r.get();
  return sum;
}
MPIRAY_REMOTE(drive_actor);

int place_for(int i) { return mpiray::world_size() == 1 ? 0 : 1 + i % (mpiray::world_size() - 1); }

double sync_calls(int argc, char** argv, long n) {
  double rate = 0;
  mpiray::run(argc, argv, [&] {
    auto a = mpiray::actor<Sink>().on_rank(place_for(0)).remote();
    a.task(&Sink::put).remote(0).get();  // constructed
    const auto t0 = Clock::now();
    std::int64_t sum = 0;
    for (long i = 0; i < n; ++i) sum += a.task(&Sink::put).remote(i).get();
    rate = n / seconds_since(t0);
    return sum == (n - 1) * n / 2 ? 0 : 1;
  });
  return rate;
}

double async_calls(int argc, char** argv, long n) {
  double rate = 0;
  mpiray::run(argc, argv, [&] {
    auto a = mpiray::actor<Sink>().on_rank(place_for(0)).remote();
    a.task(&Sink::put).remote(0).get();
    std::vector<mpiray::ObjectRef<std::int64_t>> refs;
    refs.reserve(n);
    const auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) refs.push_back(a.task(&Sink::put).remote(i));
    std::int64_t sum = 0;
    for (auto& r : refs) sum += r.get();
    rate = n / seconds_since(t0);
    return sum == (n - 1) * n / 2 ? 0 : 1;
  });
  return rate;
}

double n_n_calls(int argc, char** argv, long n) {
  double rate = 0;
  mpiray::run(argc, argv, [&] {
    const int pairs = mpiray::num_workers();
    std::vector<mpiray::ActorHandle<Sink>> actors;
    for (int i = 0; i < pairs; ++i) {
      // Each caller task runs on one rank and its actor on the next one, so calls cross ranks.
      actors.push_back(mpiray::actor<Sink>().on_rank(place_for(i + 1)).remote());
      actors.back().task(&Sink::put).remote(0).get();
    }
    const long per = n / pairs;
    const auto t0 = Clock::now();
    std::vector<mpiray::ObjectRef<std::int64_t>> drivers;
    for (int i = 0; i < pairs; ++i)
      drivers.push_back(mpiray::task(drive_actor).on_rank(place_for(i)).remote(actors[i], per));
    std::int64_t sum = 0;
    for (auto& d : drivers) sum += d.get();
    rate = static_cast<double>(per * pairs) / seconds_since(t0);
    return sum == pairs * ((per - 1) * per / 2) ? 0 : 1;
  });
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "bench_actors: actor-call throughput, mpiray vs plain MPI in the same launch\n"
                 "usage: mpirun -np 3 --oversubscribe bench_actors [--calls N] [--sync-calls N] "
                 "[--reps R]\n"
              << mpiray::runtime_help();
    return 0;
  }
  const long n_async = arg_long(argc, argv, "--calls", 200000);
  const long n_sync = arg_long(argc, argv, "--sync-calls", 20000);
  const int reps = static_cast<int>(std::max(1L, arg_long(argc, argv, "--reps", 5)));
  setenv("MPIRAY_QUIET", "1", 0);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  std::vector<double> s, sr, a, ar, nn, nnr;
  async_calls(argc, argv, std::min(n_async, 20000L));  // warm-up
  for (int i = 0; i < reps; ++i) {
    s.push_back(sync_calls(argc, argv, n_sync));
    sr.push_back(raw_sync_one(n_sync));
    a.push_back(async_calls(argc, argv, n_async));
    ar.push_back(raw_one_worker(n_async, 8));
    nn.push_back(n_n_calls(argc, argv, n_async));
    nnr.push_back(raw_master_worker(n_async, 8));
  }
  if (rank == 0) {
    std::cout << "# bench_actors: np=" << size << " reps=" << reps << " calls=" << n_async
              << " sync_calls=" << n_sync << " (medians)" << std::endl;
    print_metric("actor_calls_sync", median(s), "calls/s");
    print_metric("actor_calls_async", median(a), "calls/s");
    print_metric("actor_calls_n_n", median(nn), "calls/s");
    if (size > 1) {
      print_metric("actor_calls_sync_raw_mpi", median(sr), "calls/s");
      print_metric("actor_calls_sync_ratio", median_ratio(s, sr), "ratio");
      print_metric("actor_calls_async_raw_mpi", median(ar), "calls/s");
      print_metric("actor_calls_async_ratio", median_ratio(a, ar), "ratio");
      print_metric("actor_calls_n_n_raw_mpi", median(nnr), "calls/s");
      print_metric("actor_calls_n_n_ratio", median_ratio(nn, nnr), "ratio");
    }
  }
  MPI_Finalize();
  return 0;
}
