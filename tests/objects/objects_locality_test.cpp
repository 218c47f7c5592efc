// Object store, placement: tasks go to the rank that holds their largest argument, unless that
// rank is much busier than the others.
//
// The second test makes "much busier" deterministic without timing: it fills the holder rank with
// tasks that block until a file exists (created by the driver once the readers are done), so the
// holder stays loaded, and with no free slot, for as long as the test needs. It relies on the
// scheduler's documented rule (scheduler.hpp: in-flight cap of kMinPerThread per thread once tasks
// take >= kQueuedWorkNs / kMinPerThread each; "much busier" = more than 2 tasks per thread above
// the least loaded rank); warm-up tasks of 5 ms put the cap at its minimum.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "objects/objects_support.hpp"

namespace {

using Vec = std::vector<double>;
using objtest::checksum;
using objtest::kMiB;

struct Where {
  std::int32_t rank;
  std::uint64_t checksum;
};

Vec make_vec(std::uint64_t n, std::uint64_t seed) { return objtest::make_doubles(n, seed); }
Where where_with(Vec v) { return Where{mpiray::rank(), checksum(v)}; }
int threads_here() { return mpiray::num_threads(); }
// Simulated work of a known minimum duration (sets the scheduler's duration estimate).
int busy_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
// Occupies a task thread until `path` exists: 1, or -1 after a safety limit.
int hold_until_file(std::string path) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > limit) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return 1;
}
// Submitted from inside a task, pinned tasks are dispatched at once whatever the rank's cap.
std::vector<mpiray::ObjectRef<int>> occupy(std::int32_t rank, std::int32_t count, std::string path) {
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < count; ++i) refs.push_back(mpiray::task(hold_until_file).on_rank(rank).remote(path));
  return refs;
}

}  // namespace

MPIRAY_REMOTE(make_vec, where_with, threads_here, busy_ms, hold_until_file, occupy);

namespace {

using namespace mpiray_test;
constexpr std::uint64_t kN = 4 * kMiB / sizeof(double);  // 4 MiB result

TEST(ObjectsLocality, TasksRunWhereTheirLargeArgumentLives) {
  const int holder = last_executor();
  auto big = mpiray::task(make_vec).on_rank(holder).remote(kN, std::uint64_t(1));
  big.get();  // wait until it exists (on the holder; the driver now has a copy too)
  const auto want = checksum(objtest::make_doubles(kN, 1));
  // A fresh object the driver has not read: only the holder has it.
  auto fresh = mpiray::task(make_vec).on_rank(holder).remote(kN, std::uint64_t(2));
  const auto want_fresh = checksum(objtest::make_doubles(kN, 2));
  mpiray::wait(std::vector<mpiray::ObjectRef<Vec>>{fresh}, 1);
  for (auto* ref : {&fresh, &big}) {
    std::vector<mpiray::ObjectRef<Where>> tasks;
    for (int i = 0; i < 20; ++i) tasks.push_back(mpiray::task(where_with).remote(*ref));
    int on_holder = 0;
    for (auto& t : tasks) {
      const Where w = t.get();
      EXPECT_EQ(w.checksum, ref == &big ? want : want_fresh);
      on_holder += w.rank == holder;
    }
    if (mpiray::world_size() >= 3) {
      EXPECT_GE(on_holder, 15) << "of 20 tasks whose 4 MiB argument lives on rank " << holder
                               << (ref == &big ? " (and a copy on rank 0)" : "");
    }
  }
}

TEST(ObjectsLocality, PreferenceYieldsToLoad) {
  if (mpiray::world_size() < 3) GTEST_SKIP() << "needs two worker ranks";
  const int holder = last_executor();
  const int other = first_executor();
  auto big = mpiray::task(make_vec).on_rank(holder).remote(kN, std::uint64_t(3));
  mpiray::wait(std::vector<mpiray::ObjectRef<Vec>>{big}, 1);
  const int threads = mpiray::task(threads_here).on_rank(holder).remote().get();
  ASSERT_GE(threads, 1);

  // Warm-up: tasks of >= 5 ms on the holder bring its in-flight cap down to 2 per thread.
  std::vector<mpiray::ObjectRef<int>> warm;
  for (int i = 0; i < 12; ++i) warm.push_back(mpiray::task(busy_ms).on_rank(holder).remote(5));
  mpiray::get(warm);

  char tmpl[] = "/tmp/mpiray-locality-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  ASSERT_NE(dir, nullptr);
  const std::string gate = std::string(dir) + "/open";
  // 3 tasks per thread on the holder, all blocked: load above the others by more than 2 per
  // thread, and no room below the cap.
  auto holds = mpiray::task(occupy).on_rank(other).remote(holder, 3 * threads, gate).get();

  std::vector<mpiray::ObjectRef<Where>> tasks;
  for (int i = 0; i < 20; ++i) tasks.push_back(mpiray::task(where_with).remote(big));
  // Any reader sent to the holder would wait behind the blocked tasks: stop waiting after a
  // while so that the test fails instead of hanging.
  auto [done, stuck] = mpiray::wait(tasks, tasks.size(), std::chrono::seconds(30));
  { std::ofstream(gate).put('1'); }
  const auto want = checksum(objtest::make_doubles(kN, 3));
  int on_holder = 0;
  for (auto& t : tasks) {
    const Where w = t.get();
    EXPECT_EQ(w.checksum, want);
    on_holder += w.rank == holder;
  }
  EXPECT_TRUE(stuck.empty()) << stuck.size() << " readers waited behind the busy holder";
  EXPECT_LE(on_holder, 5) << "of 20 tasks, while rank " << holder << " was busy";
  for (auto& h : holds) EXPECT_EQ(h.get(), 1) << "a holding task gave up";
  std::filesystem::remove_all(dir);
}

}  // namespace
