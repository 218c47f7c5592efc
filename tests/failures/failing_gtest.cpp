// Failure mode: a failing GoogleTest under the MPI test main (tests/mpi/mpi_test_main.hpp). The
// failure must become a non-zero exit code on every rank, not only on rank 0. Each rank prints
// the code mpiray::run gave it, so the test can check the workers too.

#include <cstdio>
#include <cstdlib>

#include "mpi/mpi_test_main.hpp"

namespace {
int square(int x) { return x * x; }
}  // namespace
MPIRAY_REMOTE(square);

TEST(DeliberatelyFailing, WrongExpectation) {
  EXPECT_EQ(mpiray::task(square).remote(3).get(), 10) << "this failure is expected";
}

int main(int argc, char** argv) {
  const int code = mpiray_test::run_gtest_under_mpiray(argc, argv);
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  std::fprintf(stderr, "failing_gtest: rank %s exits with %d\n", rank ? rank : "0", code);
  return code;
}
