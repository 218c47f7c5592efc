// Failure mode: a task crashes its worker with SIGSEGV. The crash handler must name the rank and
// the task, and the job must end with a non-zero code instead of leaving rank 0 waiting.

#include <mpiray/mpiray.hpp>

#include <csignal>
#include <cstdio>

namespace {
int crash_on_purpose(int x) {
  std::raise(SIGSEGV);
  return x;  // not reached
}
}  // namespace
MPIRAY_REMOTE(crash_on_purpose);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    if (mpiray::world_size() < 2) {
      std::fprintf(stderr, "worker_segfault: needs at least 2 ranks\n");
      return 0;  // exit 0 makes the failure test fail: it must run under mpiexec -n >= 2
    }
    return mpiray::task(crash_on_purpose).on_rank(1).remote(1).get();
  });
}
