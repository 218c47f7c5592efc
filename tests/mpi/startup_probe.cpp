// The very first tasks of a job, submitted on the first line of the driver body (no GoogleTest
// start-up in between, which would hide the race): every worker must already see the running
// runtime when it runs them, i.e. mpiray::rank(), mpiray::world_size() and nested submits work.
// Prints "startup_probe: OK" and exits 0 only if every probe saw the right values.

#include <mpiray/mpiray.hpp>

#include <cstdio>
#include <vector>

namespace {

int rank_here() { return mpiray::rank(); }
int world_here() { return mpiray::world_size(); }
// A nested submit from one of the first tasks: -1 if the runtime refused it.
int nested_submit_here() {
  try {
    return mpiray::task(rank_here).on_rank(mpiray::rank()).remote().get();
  } catch (const mpiray::Error& e) {
    std::fprintf(stderr, "startup_probe: nested submit refused: %s\n", e.what());
    return -1;
  }
}

}  // namespace

MPIRAY_REMOTE(rank_here, world_here, nested_submit_here);

int main(int argc, char** argv) {
  return mpiray::run(argc, argv, [] {
    struct Probe {
      int rank;
      mpiray::ObjectRef<int> rank_seen, world_seen, nested_seen;
    };
    const int n = mpiray::world_size();
    std::vector<Probe> probes;
    for (int r = (n == 1 ? 0 : 1); r < (n == 1 ? 1 : n); ++r) {
      probes.push_back({r, mpiray::task(rank_here).on_rank(r).remote(),
                        mpiray::task(world_here).on_rank(r).remote(),
                        mpiray::task(nested_submit_here).on_rank(r).remote()});
    }
    int bad = 0;
    for (auto& p : probes) {
      const int rank_seen = p.rank_seen.get();
      const int world_seen = p.world_seen.get();
      const int nested_seen = p.nested_seen.get();
      if (rank_seen != p.rank || world_seen != n || nested_seen != p.rank) {
        ++bad;
        std::fprintf(stderr,
                     "startup_probe: FAIL: a first task on rank %d saw rank()=%d world_size()=%d "
                     "(expected %d and %d), nested submit gave %d\n",
                     p.rank, rank_seen, world_seen, p.rank, n, nested_seen);
      }
    }
    if (bad == 0) std::printf("startup_probe: OK on %d rank(s)\n", n);
    return bad == 0 ? 0 : 1;
  });
}
