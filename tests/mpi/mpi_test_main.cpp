// main() of every MPI test executable: see mpi_test_main.hpp.

#include "mpi/mpi_test_main.hpp"

int main(int argc, char** argv) { return mpiray_test::run_gtest_under_mpiray(argc, argv); }
