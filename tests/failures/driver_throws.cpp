// Failure mode: an exception escapes the driver body. mpiray must report it on stderr, shut the
// workers down and make the whole job exit non-zero (not hang, not exit 0).

#include <mpiray/mpiray.hpp>

#include <stdexcept>

namespace {
int square(int x) { return x * x; }
}  // namespace
MPIRAY_REMOTE(square);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    // Some work in flight first, so shutdown has something to abandon.
    auto r = mpiray::task(square).remote(3);
    if (r.get() != 9) return 0;  // would make the test fail: exit code 0
    throw std::logic_error("deliberate failure in the driver body");
  });
}
