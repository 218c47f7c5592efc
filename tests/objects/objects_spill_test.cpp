// Object store limit and spilling (issue 3): with MPIRAY_OBJECT_STORE_MB=16 (set by CMake for this
// executable), objects beyond the limit spill to files under MPIRAY_SPILL_DIR, least recently
// used first, and come back transparently when read; an object that cannot fit even after
// spilling everything throws mpiray::ObjectStoreFullError with the sizes in its message.
//
// Every process (each rank) spills into its own fresh directory: a static initialiser creates it
// with mkdtemp and sets MPIRAY_SPILL_DIR before main() (and so before mpiray::run) starts; it is
// removed at exit. Tasks on a worker report on their own process's directory.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "objects/objects_support.hpp"

namespace {

using Words = std::vector<std::uint64_t>;
using objtest::checksum;
using objtest::kMiB;

constexpr std::size_t k4MiB = 4 * kMiB / sizeof(std::uint64_t);

struct FreshSpillDir {
  std::string path;
  FreshSpillDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mpiray-spill-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data())) {
      path = buf.data();
      setenv("MPIRAY_SPILL_DIR", path.c_str(), 1);
    }
  }
  ~FreshSpillDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};
FreshSpillDir g_spill_dir;

std::string spill_dir() {
  const char* d = std::getenv("MPIRAY_SPILL_DIR");
  return d ? d : "";
}

struct SpillReport {
  std::int64_t files_while_spilled;
  std::uint64_t bytes_while_spilled;
  std::int32_t all_equal;
  std::int32_t rank;
};

std::uint64_t sum_value(Words v) { return checksum(v); }
std::uint64_t sum_get(mpiray::ObjectRef<Words> r) { return checksum(*r.view()); }
// A worker over its own limit: puts 10 x 4 MiB, looks at its spill directory, reads all back.
SpillReport worker_spills(std::uint64_t seed) {
  std::vector<mpiray::ObjectRef<Words>> refs;
  for (int i = 0; i < 10; ++i) refs.push_back(mpiray::put(objtest::make_words(k4MiB, seed + i)));
  const objtest::DirUsage u = objtest::dir_usage(spill_dir());
  int equal = 1;
  for (int i = 9; i >= 0; --i) equal &= refs[i].get() == objtest::make_words(k4MiB, seed + i);
  return SpillReport{u.files, u.bytes, equal, mpiray::rank()};
}
int put_64mib_here() {
  mpiray::put(Words(64 * kMiB / sizeof(std::uint64_t), 7));
  return 0;
}

}  // namespace

MPIRAY_REMOTE(sum_value, sum_get, worker_spills, put_64mib_here);

namespace {

using namespace mpiray_test;

TEST(ObjectsSpill, TestSetUp) {
  ASSERT_FALSE(g_spill_dir.path.empty()) << "could not create a spill directory";
  const char* mb = std::getenv("MPIRAY_OBJECT_STORE_MB");
  ASSERT_TRUE(mb && std::string(mb) == "16") << "run through CTest: MPIRAY_OBJECT_STORE_MB=16";
  EXPECT_EQ(objtest::dir_usage(spill_dir()).files, 0) << "fresh directory";
}

// Runs before the tests below: they pass refs to ObjectRef<T> parameters, which keeps those
// objects (and their spill files) until shutdown, by design of pin_ref.
TEST(ObjectsSpill, SpillFilesOfFreedObjectsAreRemoved) {
  ASSERT_EQ(objtest::dir_usage(spill_dir()).files, 0) << "must run on a fresh directory";
  {
    std::vector<mpiray::ObjectRef<Words>> refs;
    for (int i = 0; i < 10; ++i) refs.push_back(mpiray::put(objtest::make_words(k4MiB, 300 + i)));
    ASSERT_GE(objtest::dir_usage(spill_dir()).bytes, 24 * kMiB);
    EXPECT_TRUE(refs[0].get() == objtest::make_words(k4MiB, 300)) << "restored from disk";
  }  // every ref dropped: the objects, spilled or not, are freed on the driver
  const objtest::DirUsage u = objtest::dir_usage(spill_dir());
  EXPECT_EQ(u.bytes, 0u) << u.files << " files of freed objects are left under " << spill_dir();
}

TEST(ObjectsSpill, DriverPutsBeyondTheLimitSpillAndComeBackExactly) {
  std::vector<mpiray::ObjectRef<Words>> refs;
  std::vector<std::uint64_t> sums;
  for (int i = 0; i < 10; ++i) {
    Words v = objtest::make_words(k4MiB, 100 + i);
    sums.push_back(checksum(v));
    refs.push_back(mpiray::put(std::move(v)));
  }
  // 40 MiB of live objects, 16 MiB allowed in memory: at least 24 MiB are on disk now.
  const objtest::DirUsage u = objtest::dir_usage(spill_dir());
  EXPECT_GE(u.files, 1) << "nothing spilled under " << spill_dir();
  EXPECT_GE(u.bytes, 24 * kMiB) << u.files << " files under " << spill_dir();
  // Read back in put order (the oldest were spilled first), then again in reverse.
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(refs[i].get() == objtest::make_words(k4MiB, 100 + i)) << "object " << i;
  for (int i = 9; i >= 0; --i)
    ASSERT_TRUE(refs[i].get() == objtest::make_words(k4MiB, 100 + i)) << "object " << i << " (2nd read)";
  // Tasks on the workers read them too (the holder restores them for the one-sided read).
  const auto ranks = executor_ranks();
  std::vector<mpiray::ObjectRef<std::uint64_t>> by_value, by_view;
  for (int i = 0; i < 10; ++i) {
    const int r = ranks[i % ranks.size()];
    by_value.push_back(mpiray::task(sum_value).on_rank(r).remote(refs[i]));
    by_view.push_back(mpiray::task(sum_get).on_rank(r).remote(refs[i]));
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(by_value[i].get(), sums[i]) << "object " << i << " as a value argument";
    EXPECT_EQ(by_view[i].get(), sums[i]) << "object " << i << " through view() in the task";
  }
}

TEST(ObjectsSpill, WorkerPutsBeyondItsLimitSpillAndComeBack) {
  for (int r : executor_ranks()) {
    const SpillReport rep = mpiray::task(worker_spills).on_rank(r).remote(std::uint64_t(1000 + r)).get();
    EXPECT_EQ(rep.rank, r);
    EXPECT_GE(rep.files_while_spilled, 1) << "rank " << r;
    EXPECT_GE(rep.bytes_while_spilled, 24 * kMiB) << "rank " << r;
    EXPECT_EQ(rep.all_equal, 1) << "rank " << r;
  }
}

TEST(ObjectsSpill, ObjectLargerThanTheStoreThrowsObjectStoreFullError) {
  try {
    mpiray::put(Words(64 * kMiB / sizeof(std::uint64_t), 1));
    ADD_FAILURE() << "a 64 MiB put fitted in a 16 MiB store";
  } catch (const mpiray::ObjectStoreFullError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("64"), std::string::npos) << "the object's size: " << what;
    EXPECT_NE(what.find("16"), std::string::npos) << "the limit: " << what;
  }
  // The store still works afterwards.
  auto ok = mpiray::put(objtest::make_words(kMiB / 8, 5));
  EXPECT_TRUE(ok.get() == objtest::make_words(kMiB / 8, 5));
}

TEST(ObjectsSpill, ObjectLargerThanAWorkersStoreFailsTheTaskWithObjectStoreFullError) {
  if (mpiray::world_size() == 1) GTEST_SKIP() << "one process: covered by the driver's test";
  try {
    mpiray::task(put_64mib_here).on_rank(last_executor()).remote().get();
    ADD_FAILURE() << "a 64 MiB put fitted in a worker's 16 MiB store";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.type(), "mpiray::ObjectStoreFullError") << e.what();
    EXPECT_NE(e.message().find("MiB"), std::string::npos) << e.what();
  }
}

}  // namespace
