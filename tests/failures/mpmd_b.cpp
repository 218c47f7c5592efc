// The second program of the MPMD failure test: see mpmd_a.cpp.

#include <mpiray/mpiray.hpp>

#include <cstdio>
#include <string>

namespace {
std::string only_in_program_b(std::string s) { return s + "!"; }
}  // namespace
MPIRAY_REMOTE(only_in_program_b);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    std::printf("mpmd_b: the driver body ran, which it must not\n");
    return 0;
  });
}
