// Failure mode (with mpmd_b.cpp): two different programs in one MPMD launch
//   mpiexec -n 1 mpmd_a : -n 1 mpmd_b
// Their remote-function registries differ, so function ids would mean different things on
// different ranks: mpiray must refuse to start on every rank.

#include <mpiray/mpiray.hpp>

#include <cstdio>

namespace {
int only_in_program_a(int x) { return x + 1; }
}  // namespace
MPIRAY_REMOTE(only_in_program_a);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    std::printf("mpmd_a: the driver body ran, which it must not\n");
    return mpiray::task(only_in_program_a).remote(1).get() == 2 ? 0 : 1;
  });
}
