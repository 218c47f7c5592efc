// mpiray::run called twice in one program. Without arguments the program leaves MPI to mpiray,
// so the first run ends MPI and the second must refuse with a clear message (MPI cannot start
// again) instead of aborting inside MPI. With --own-mpi the program starts and ends MPI itself,
// and both runs work: the control test.

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include <cstdio>
#include <cstring>

namespace {
int twice(int x) {
  return 2 * x;
}
}  // namespace
MPIRAY_REMOTE(twice);

int main(int argc, char** argv) {
  const bool own_mpi = argc > 1 && std::strcmp(argv[1], "--own-mpi") == 0;
  if (own_mpi) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  }
  int code = 0;
  for (int run = 1; run <= 2 && code == 0; ++run) {
    code = mpiray::run(argc, argv, [run] {
      const int v = mpiray::task(twice).remote(21).get();
      std::printf("run_twice: run %d OK twice(21)=%d\n", run, v);
      return v == 42 ? 0 : 1;
    });
  }
  if (own_mpi) MPI_Finalize();
  return code;
}
