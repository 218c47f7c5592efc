// The consumer project's program: one remote task with a ref argument, checked end to end.

#include <mpiray/mpiray.hpp>

#include <iostream>
#include <string>

namespace {
int square(int x) { return x * x; }
std::string label(int v) { return "value=" + std::to_string(v); }
}  // namespace
MPIRAY_REMOTE(square, label);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    const std::string got = mpiray::task(label).remote(mpiray::task(square).remote(9)).get();
    std::cout << "consumer: " << got << " on " << mpiray::world_size() << " rank(s)" << std::endl;
    return got == "value=81" ? 0 : 1;
  });
}
