#pragma once
// GoogleTest under mpiray: the tests run as the driver body on rank 0 while the other ranks serve
// their tasks, and the gtest result becomes the exit code of every rank (mpiray::run sends it to
// the workers with the shutdown), so mpiexec fails if any test fails.
//
// Every MPI test executable gets main() from mpi_test_main.cpp (added by add_mpi_test); programs
// that need their own main call run_gtest_under_mpiray().

#include <gtest/gtest.h>

#include <mpiray/mpiray.hpp>

namespace mpiray_test {

/// Initialises GoogleTest on every rank (it strips --gtest_* options and leaves --mpiray-* ones
/// for mpiray), then runs all tests on rank 0 inside mpiray::run. Returns the job's exit code:
/// 0 if every test passed, 1 otherwise, the same on every rank.
inline int run_gtest_under_mpiray(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return mpiray::run(argc, argv, [] { return RUN_ALL_TESTS(); });
}

}  // namespace mpiray_test
