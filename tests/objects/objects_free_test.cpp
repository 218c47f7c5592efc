// Object store, freeing: an object goes away with its last ObjectRef, on the rank that holds it.
// Measured as resident memory (VmRSS): a leak of N x 1 MiB shows as N MiB of growth, far above
// the allowance. Loops stop early once the growth is clearly a leak, to spare the machine.
//
// Ordering (no timing): a worker's value is freed by a kFree record from rank 0, queued when the
// last reference goes; the RSS probe is a task pinned to that worker, submitted afterwards, so its
// execute record reaches the worker after the kFree.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "objects/objects_support.hpp"

namespace {

using Bytes = std::vector<char>;
using objtest::kMiB;

long rss_here() {
  return objtest::rss_kib();
}
Bytes make_bytes(std::uint64_t n, std::int32_t fill) {
  return Bytes(n, static_cast<char>(fill));
}
mpiray::ObjectRef<Bytes> put_bytes_here(std::uint64_t n, std::int32_t fill) {
  return mpiray::put(Bytes(n, static_cast<char>(fill)));
}
// `count` puts of n bytes, each dropped at once (the worker's own reference is the last one).
long put_and_drop_here(std::int32_t count, std::uint64_t n) {
  long ok = 0;
  for (int i = 0; i < count; ++i) ok += mpiray::put(Bytes(n, static_cast<char>(i))).valid();
  return ok;
}

}  // namespace

MPIRAY_REMOTE(rss_here, make_bytes, put_bytes_here, put_and_drop_here);

namespace {

using namespace mpiray_test;
constexpr long kAllowKiB = 200 * 1024;

TEST(ObjectsFree, DriverPutsDroppedAtOnceKeepTheDriversMemoryFlat) {
  const Bytes mib(kMiB, 'x');
  for (int i = 0; i < 200; ++i) mpiray::put(mib);  // warm the allocator
  const long before = objtest::rss_kib();
  long growth = 0;
  for (int i = 0; i < 10000; ++i) {
    auto ref = mpiray::put(mib);
    ASSERT_TRUE(ref.valid());
    if (i % 250 == 0) {
      growth = objtest::rss_kib() - before;
      ASSERT_LT(growth, kAllowKiB) << "after " << i << " puts of 1 MiB (RSS KiB " << before
                                   << " -> " << before + growth << ")";
    }
  }
  growth = objtest::rss_kib() - before;
  EXPECT_LT(growth, kAllowKiB) << "10000 dropped puts of 1 MiB";
}

// Large task results stay on the worker that made them; dropping the driver's refs frees them.
TEST(ObjectsFree, WorkerHeldTaskResultsAreFreedWithTheDriversLastRef) {
  const int w = last_executor();
  auto round = [&](int batch) {
    std::vector<mpiray::ObjectRef<Bytes>> refs;
    for (int i = 0; i < batch; ++i)
      refs.push_back(mpiray::task(make_bytes).on_rank(w).remote(std::uint64_t(kMiB), i));
    mpiray::wait(refs, refs.size());  // all exist on the worker; then every ref is dropped
  };
  for (int i = 0; i < 2; ++i) round(20);
  const long before = mpiray::task(rss_here).on_rank(w).remote().get();
  for (int i = 0; i < 25; ++i) {
    round(20);
    const long now = mpiray::task(rss_here).on_rank(w).remote().get();
    ASSERT_LT(now - before, kAllowKiB)
        << "rank " << w << " after " << (i + 1) * 20 << " dropped 1 MiB results (RSS KiB " << before
        << " -> " << now << ")";
  }
}

// A task puts 1 MiB and returns the ObjectRef; the driver drops it: the worker must free it.
TEST(ObjectsFree, WorkerPutsReturnedAsRefsAreFreedWithTheDriversLastRef) {
  const int w = last_executor();
  auto round = [&](int batch) {
    std::vector<mpiray::ObjectRef<mpiray::ObjectRef<Bytes>>> outer;
    for (int i = 0; i < batch; ++i)
      outer.push_back(mpiray::task(put_bytes_here).on_rank(w).remote(std::uint64_t(kMiB), i));
    for (auto& o : outer) EXPECT_TRUE(o.get().valid());  // the inner refs are taken and dropped
  };
  for (int i = 0; i < 2; ++i) round(20);
  const long before = mpiray::task(rss_here).on_rank(w).remote().get();
  for (int i = 0; i < 25; ++i) {
    round(20);
    const long now = mpiray::task(rss_here).on_rank(w).remote().get();
    ASSERT_LT(now - before, kAllowKiB)
        << "rank " << w << " after " << (i + 1) * 20 << " returned-and-dropped 1 MiB puts (RSS KiB "
        << before << " -> " << now << ")";
  }
}

// As above, but the driver reads every value first (a one-sided read from the worker, which
// exposes the value while the read is in flight): the value must still go when the ref does.
TEST(ObjectsFree, WorkerPutsReadByTheDriverAreFreedWithTheDriversLastRef) {
  const int w = last_executor();
  auto round = [&](int batch) {
    std::vector<mpiray::ObjectRef<mpiray::ObjectRef<Bytes>>> outer;
    for (int i = 0; i < batch; ++i)
      outer.push_back(mpiray::task(put_bytes_here).on_rank(w).remote(std::uint64_t(kMiB), i));
    for (auto& o : outer) EXPECT_EQ(o.get().view()->size(), kMiB);
  };
  for (int i = 0; i < 2; ++i) round(20);
  const long before = mpiray::task(rss_here).on_rank(w).remote().get();
  for (int i = 0; i < 25; ++i) {
    round(20);
    const long now = mpiray::task(rss_here).on_rank(w).remote().get();
    ASSERT_LT(now - before, kAllowKiB)
        << "rank " << w << " after " << (i + 1) * 20 << " read-and-dropped 1 MiB puts (RSS KiB "
        << before << " -> " << now << ")";
  }
}

// A worker's put dropped inside its task is freed by the worker.
TEST(ObjectsFree, WorkerPutsDroppedInsideTheTaskAreFreed) {
  const int w = last_executor();
  EXPECT_EQ(mpiray::task(put_and_drop_here).on_rank(w).remote(40, std::uint64_t(kMiB)).get(), 40);
  const long before = mpiray::task(rss_here).on_rank(w).remote().get();
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(mpiray::task(put_and_drop_here).on_rank(w).remote(20, std::uint64_t(kMiB)).get(), 20);
    const long now = mpiray::task(rss_here).on_rank(w).remote().get();
    ASSERT_LT(now - before, kAllowKiB)
        << "rank " << w << " after " << (i + 1) * 20 << " puts dropped in their task (RSS KiB "
        << before << " -> " << now << ")";
  }
}

}  // namespace
