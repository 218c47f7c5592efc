// A minimal, correct mpiray program. The failure tests start it with bad options or a bad
// launch environment (it must then refuse to run); the control tests start it normally.

#include <mpiray/mpiray.hpp>

#include <cstdio>

namespace {
int square(int x) { return x * x; }
}  // namespace
MPIRAY_REMOTE(square);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    const int v = mpiray::task(square).remote(12).get();
    std::printf("plain_app: OK square(12)=%d on %d rank(s) with %d thread(s)\n", v,
                mpiray::world_size(), mpiray::num_threads());
    return v == 144 ? 0 : 1;
  });
}
