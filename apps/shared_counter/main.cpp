// shared_counter: the first lesson of multiprocessing, on mpiray.
//
//   mpirun -np 3 --oversubscribe ./build/apps/shared_counter
//   ./build/apps/shared_counter                 # one process: see below
//
// Part 1 — processes do not share memory. Each mpiray::Process increments the global `counter`
// of the rank it runs on; the driver's own copy stays 0, exactly as a Python child process's
// updates never reach the parent. (In a one-process run the bodies run on the driver's threads
// and do change its counter: the program says so instead of pretending otherwise.)
//
// Part 2 — an actor is the shared counter. One Counter actor lives on one rank and every process
// sends it add(1) calls; the actor runs its calls one at a time, so the count is exact with no
// lock anywhere, whatever the number of processes and ranks.

#include <mpiray/mpiray.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace shared_counter {

// A global, like `counter = 0` at the top of a Python script. Atomic only so that the
// one-process run (where the process bodies are threads of the driver) has no data race.
std::atomic<long> counter{0};

void increment_global(int times) {
  for (int i = 0; i < times; ++i) ++counter;
  std::cout << "process on rank " << mpiray::rank() << ": my counter is " << counter.load()
            << std::endl;
}

class Counter {
 public:
  explicit Counter(long start) : n_(start) {}
  long add(long d) { return n_ += d; }  // no lock: the actor runs one call at a time
  long value() const { return n_; }

 private:
  long n_;
};
MPIRAY_ACTOR(Counter, long);

void increment_actor(mpiray::ActorHandle<Counter> c, int times) {
  mpiray::ObjectRef<long> last;
  for (int i = 0; i < times; ++i) last = c.task(&Counter::add).remote(1);
  const long seen = last.get();  // calls from one caller run in order: all of ours are done
  std::cout << "process on rank " << mpiray::rank() << ": the shared counter was " << seen
            << " after my last add" << std::endl;
}

}  // namespace shared_counter

MPIRAY_REMOTE(shared_counter::increment_global, shared_counter::increment_actor);
MPIRAY_REMOTE(&shared_counter::Counter::add, &shared_counter::Counter::value);

namespace {
long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace shared_counter;
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "shared_counter: why a global counter is not shared between processes, and an\n"
                 "actor that is\n"
                 "usage: [mpirun -np N --oversubscribe] shared_counter [--processes P] [--times T]\n"
                 "  --processes P  processes started (default 4)\n"
                 "  --times T      increments per process (default 1000)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  const int procs = static_cast<int>(std::max(1L, arg_long(argc, argv, "--processes", 4)));
  const int times = static_cast<int>(std::max(1L, arg_long(argc, argv, "--times", 1000)));

  return mpiray::run(argc, argv, [&] {
    const bool one_process = mpiray::world_size() == 1;
    std::cout << "== part 1: " << procs << " processes each add " << times
              << " to the global counter\n";
    std::vector<mpiray::Process> ps;
    for (int i = 0; i < procs; ++i) ps.emplace_back(increment_global, times);
    for (auto& p : ps) p.start();
    for (auto& p : ps) p.join();
    bool ok = true;
    for (const auto& p : ps) ok = ok && p.exitcode() == 0;
    const long driver = counter.load();
    std::cout << "driver: my counter is " << driver << "\n";
    if (one_process) {
      std::cout << "(one-process run: the processes were threads of the driver and shared its\n"
                   " memory; under mpirun each rank has its own counter and the driver's stays 0)\n";
      ok = ok && driver == static_cast<long>(procs) * times;
    } else {
      std::cout << "the processes changed their own ranks' copies; the driver's copy is still 0\n";
      ok = ok && driver == 0;
    }

    std::cout << "== part 2: the same increments sent to one Counter actor\n";
    const int home = one_process ? 0 : 1;
    mpiray::ActorHandle<Counter> c = mpiray::actor<Counter>(0L).on_rank(home).remote();
    std::vector<mpiray::Process> qs;
    for (int i = 0; i < procs; ++i) qs.emplace_back(increment_actor, c, times);
    for (auto& q : qs) q.start();
    for (auto& q : qs) q.join();
    for (const auto& q : qs) ok = ok && q.exitcode() == 0;
    const long shared = c.task(&Counter::value).remote().get();
    const long expected = static_cast<long>(procs) * times;
    std::cout << "driver: the actor on rank " << c.rank() << " counted " << shared << " (expected "
              << expected << ")\n";
    ok = ok && shared == expected;
    c.kill();
    std::cout << (ok ? "shared_counter: OK" : "shared_counter: FAILED") << std::endl;
    return ok ? 0 : 1;
  });
}
