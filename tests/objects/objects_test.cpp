// Object store, functional: put/get on the driver and in tasks, values owned by workers, ObjectRef
// arguments across ranks, refs nested in values, broadcast, many small objects, zero-copy view()
// and the errors of get() (failed task, unknown or freed object, wrong type).
//
// Values are compared exactly (vectors with ==, or an order-sensitive hash of every bit).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "objects/objects_support.hpp"

namespace {

using Vec = std::vector<double>;
using objtest::checksum;
using objtest::kMiB;
using objtest::make_doubles;

constexpr std::size_t kBig = 4 * kMiB / sizeof(double);  // 4 MiB: far above the 64 KiB inline limit

struct ViewReport {
  std::uint64_t checksum;
  std::uint64_t address;  // where the viewed value lives on that rank
  std::uint64_t size;
  std::int32_t rank;
  std::int32_t same_pointer;  // two view() calls in the task returned the same pointer
};

// ---- remote functions
mpiray::ObjectRef<Vec> put_here(std::uint64_t n, std::uint64_t seed) {
  return mpiray::put(make_doubles(n, seed));
}
Vec make_vec(std::uint64_t n, std::uint64_t seed) {
  return make_doubles(n, seed);
}
std::uint64_t sum_value(Vec v) {
  return checksum(v);
}  // argument resolved before the task runs
std::uint64_t sum_get(mpiray::ObjectRef<Vec> r) {
  return checksum(r.get());
}  // read in the task
ViewReport view_report(mpiray::ObjectRef<Vec> r) {
  auto a = r.view();
  auto b = r.view();
  return ViewReport{checksum(*a), reinterpret_cast<std::uint64_t>(a->data()), a->size(),
                    mpiray::rank(), a.get() == b.get() ? 1 : 0};
}
std::vector<mpiray::ObjectRef<Vec>> put_many_here(std::int32_t k, std::uint64_t n,
                                                  std::uint64_t seed) {
  std::vector<mpiray::ObjectRef<Vec>> refs;
  for (std::int32_t i = 0; i < k; ++i) refs.push_back(mpiray::put(make_doubles(n, seed + i)));
  return refs;
}
std::vector<std::uint64_t> sums_of_refs(std::vector<mpiray::ObjectRef<Vec>> refs) {
  std::vector<std::uint64_t> out;
  for (const auto& r : refs) out.push_back(checksum(r.get()));
  return out;
}
long rss_here() {
  return objtest::rss_kib();
}
std::uint64_t string_checksum(mpiray::ObjectRef<std::string> r) {
  return objtest::checksum_bytes(*r.view());
}
std::uint64_t shorts_checksum(mpiray::ObjectRef<std::vector<std::int16_t>> r) {
  auto v = r.view();
  return objtest::checksum_bytes(
      std::string(reinterpret_cast<const char*>(v->data()), v->size() * sizeof(std::int16_t)));
}
int fail_always(int x) {
  throw std::runtime_error("boom " + std::to_string(x));
}
int broadcast_in_task() {
  mpiray::broadcast(std::vector<double>(8, 1.0));
  return 0;
}
// What a task sees when it reads an id that is unknown or freed: 1 ObjectError, 2 TaskError,
// 3 another exception, 4 timeout, 0 no error at all.
int read_bad_id(std::uint64_t id) {
  try {
    mpiray::ObjectRef<int>::borrow(id).get(std::chrono::seconds(30));
    return 0;
  } catch (const mpiray::ObjectError&) {
    return 1;
  } catch (const mpiray::TaskError&) {
    return 2;
  } catch (const mpiray::TimeoutError&) {
    return 4;
  } catch (...) {
    return 3;
  }
}
// Puts n small values inside a task, reads them back; returns how many came back right.
std::int64_t small_puts_in_task(std::int32_t n) {
  std::vector<mpiray::ObjectRef<std::int64_t>> refs;
  refs.reserve(n);
  for (std::int32_t i = 0; i < n; ++i) refs.push_back(mpiray::put(std::int64_t(i) * 11 + 5));
  std::int64_t good = 0;
  for (std::int32_t i = 0; i < n; ++i) good += refs[i].get() == std::int64_t(i) * 11 + 5;
  return good;
}
// A worker's own put: view() twice (same pointer), then the pointee after the ref is gone.
ViewReport owner_view(std::uint64_t n, std::uint64_t seed) {
  std::shared_ptr<const Vec> a;
  int same = 0;
  {
    auto ref = mpiray::put(make_doubles(n, seed));
    a = ref.view();
    same = a.get() == ref.view().get();
  }
  return ViewReport{checksum(*a), reinterpret_cast<std::uint64_t>(a->data()), a->size(),
                    mpiray::rank(), same};
}

}  // namespace

MPIRAY_REMOTE(put_here, make_vec, sum_value, sum_get, view_report, put_many_here, sums_of_refs);
MPIRAY_REMOTE(rss_here, fail_always, read_bad_id, small_puts_in_task, owner_view,
              broadcast_in_task);
MPIRAY_REMOTE(string_checksum, shorts_checksum);

namespace {

using namespace mpiray_test;

// ---------------------------------------------------------------------------------------------
// put / get

TEST(ObjectsPut, DriverPutGetRoundTripsExactly) {
  auto i = mpiray::put(42);
  auto s = mpiray::put(std::string("hello, object store"));
  const Vec small = make_doubles(100, 1);  // inline-sized
  const Vec big = make_doubles(kBig, 2);
  auto rs = mpiray::put(small);
  auto rb = mpiray::put(big);
  EXPECT_EQ(i.get(), 42);
  EXPECT_EQ(s.get(), "hello, object store");
  EXPECT_TRUE(rs.get() == small);
  EXPECT_TRUE(rb.get() == big);
  EXPECT_TRUE(rb.get() == big) << "a second get() returns the same value";
  EXPECT_TRUE(*rb.view() == big);
  EXPECT_TRUE(rb.ready());
}

TEST(ObjectsPut, DriverPutIsReadByTasksOnEveryExecutor) {
  const Vec big = make_doubles(kBig, 3);
  const Vec small = make_doubles(300, 4);
  const auto want_big = checksum(big), want_small = checksum(small);
  auto rb = mpiray::put(big);
  auto rs = mpiray::put(small);
  for (int r : executor_ranks()) {
    EXPECT_EQ(mpiray::task(sum_value).on_rank(r).remote(rb).get(), want_big) << "rank " << r;
    EXPECT_EQ(mpiray::task(sum_get).on_rank(r).remote(rb).get(), want_big) << "rank " << r;
    EXPECT_EQ(mpiray::task(sum_value).on_rank(r).remote(rs).get(), want_small) << "rank " << r;
    EXPECT_EQ(mpiray::task(sum_get).on_rank(r).remote(rs).get(), want_small) << "rank " << r;
  }
}

TEST(ObjectsPut, WorkerPutStaysOnTheWorkerAndIsReadByTheDriverAndOtherTasks) {
  const int owner = first_executor();
  const int other = last_executor();
  const std::uint64_t n = 64 * kMiB / sizeof(double);  // 64 MiB: visible in resident memory
  const bool multi = mpiray::world_size() > 1;
  const long owner_before = mpiray::task(rss_here).on_rank(owner).remote().get();
  const long driver_before = objtest::rss_kib();

  mpiray::ObjectRef<Vec> ref = mpiray::task(put_here).on_rank(owner).remote(n, 77).get();
  ASSERT_TRUE(ref.valid());

  if (multi) {
    // The value is held by the worker that put it, not copied to rank 0.
    const long owner_after = mpiray::task(rss_here).on_rank(owner).remote().get();
    const long driver_after = objtest::rss_kib();
    EXPECT_GE(owner_after - owner_before, 48 * 1024)
        << "the 64 MiB put should be resident on its worker (KiB: " << owner_before << " -> "
        << owner_after << ")";
    EXPECT_LT(driver_after - driver_before, 16 * 1024)
        << "the driver holds only a reference until it reads the value (KiB: " << driver_before
        << " -> " << driver_after << ")";
  }
  const Vec want = make_doubles(n, 77);
  const auto want_sum = checksum(want);
  EXPECT_TRUE(ref.get() == want) << "driver get() of a worker's put";
  EXPECT_EQ(mpiray::task(sum_value).on_rank(other).remote(ref).get(), want_sum);
  EXPECT_EQ(mpiray::task(sum_get).on_rank(other).remote(ref).get(), want_sum);
  EXPECT_EQ(mpiray::task(sum_value).on_rank(owner).remote(ref).get(), want_sum);
  EXPECT_EQ(mpiray::task(sum_value).remote(ref).get(), want_sum) << "unpinned reader";
}

TEST(ObjectsPut, ManySmallObjects) {
  constexpr int kN = 20000;
  std::vector<mpiray::ObjectRef<std::int64_t>> refs;
  refs.reserve(kN);
  for (int i = 0; i < kN; ++i) refs.push_back(mpiray::put(std::int64_t(i) * 7 + 1));
  const std::vector<std::int64_t> all = mpiray::get(refs);
  ASSERT_EQ(all.size(), std::size_t(kN));
  int wrong = 0;
  for (int i = 0; i < kN; ++i) wrong += all[i] != std::int64_t(i) * 7 + 1;
  EXPECT_EQ(wrong, 0);
  // Strings too, read back one by one in reverse order.
  std::vector<mpiray::ObjectRef<std::string>> srefs;
  for (int i = 0; i < 2000; ++i) srefs.push_back(mpiray::put("value-" + std::to_string(i)));
  for (int i = 1999; i >= 0; --i) ASSERT_EQ(srefs[i].get(), "value-" + std::to_string(i));
  // And from inside tasks, on every executor.
  for (int r : executor_ranks())
    EXPECT_EQ(mpiray::task(small_puts_in_task).on_rank(r).remote(2000).get(), 2000) << "rank " << r;
}

// ---------------------------------------------------------------------------------------------
// ObjectRef arguments and nested refs

TEST(ObjectsRefs, TaskResultsPassedBetweenRanks) {
  const auto ranks = executor_ranks();
  for (std::size_t a = 0; a < ranks.size(); ++a) {
    const int producer = ranks[a];
    const int consumer = ranks[(a + 1) % ranks.size()];
    const std::uint64_t seed = 100 + a;
    auto made = mpiray::task(make_vec).on_rank(producer).remote(std::uint64_t(kBig), seed);
    auto by_value = mpiray::task(sum_value).on_rank(consumer).remote(made);
    auto by_ref = mpiray::task(sum_get).on_rank(consumer).remote(made);
    const auto want = checksum(make_doubles(kBig, seed));
    EXPECT_EQ(by_value.get(), want) << producer << " -> " << consumer;
    EXPECT_EQ(by_ref.get(), want) << producer << " -> " << consumer;
    EXPECT_TRUE(made.get() == make_doubles(kBig, seed));
  }
}

TEST(ObjectsRefs, RefsNestedInAReturnedVectorAreReadableElsewhere) {
  const int maker = first_executor();
  const int reader = last_executor();
  const std::uint64_t n = 256 * 1024 / sizeof(double);  // 256 KiB each: held where put
  constexpr int kK = 6;
  auto outer = mpiray::task(put_many_here).on_rank(maker).remote(kK, n, std::uint64_t(500));
  const std::vector<mpiray::ObjectRef<Vec>> refs = outer.get();
  ASSERT_EQ(refs.size(), std::size_t(kK));
  std::vector<std::uint64_t> want;
  for (int i = 0; i < kK; ++i) {
    const Vec v = make_doubles(n, 500 + i);
    want.push_back(checksum(v));
    EXPECT_TRUE(refs[i].get() == v) << "nested ref " << i << " read by the driver";
  }
  EXPECT_EQ(mpiray::task(sums_of_refs).on_rank(reader).remote(refs).get(), want)
      << "refs passed inside a value to another rank";
  EXPECT_EQ(mpiray::task(sums_of_refs).on_rank(reader).remote(outer).get(), want)
      << "the ref of the vector of refs, resolved before the task runs";
  // Refs of the driver's puts, nested in a put value.
  std::vector<mpiray::ObjectRef<Vec>> mine;
  std::vector<std::uint64_t> mine_want;
  for (int i = 0; i < 3; ++i) {
    mine.push_back(mpiray::put(make_doubles(n, 900 + i)));
    mine_want.push_back(checksum(make_doubles(n, 900 + i)));
  }
  auto boxed = mpiray::put(mine);
  EXPECT_EQ(mpiray::task(sums_of_refs).on_rank(reader).remote(boxed).get(), mine_want);
}

// ---------------------------------------------------------------------------------------------
// broadcast

TEST(ObjectsBroadcast, EveryExecutorReadsItsOwnCopyWithZeroCopyViews) {
  const std::uint64_t n = 16 * kMiB / sizeof(double);
  const Vec v = make_doubles(n, 4242);
  const auto want = checksum(v);
  auto ref = mpiray::broadcast(v);

  auto d1 = ref.view();
  auto d2 = ref.view();
  EXPECT_EQ(d1.get(), d2.get()) << "driver: two views, one value";
  EXPECT_EQ(checksum(*d1), want);

  std::vector<std::pair<int, mpiray::ObjectRef<ViewReport>>> first, second;
  for (int r : executor_ranks())
    first.emplace_back(r, mpiray::task(view_report).on_rank(r).remote(ref));
  std::vector<ViewReport> reports;
  for (auto& [r, f] : first) {
    const ViewReport rep = f.get();
    reports.push_back(rep);
    EXPECT_EQ(rep.rank, r);
    EXPECT_EQ(rep.size, n) << "rank " << r;
    EXPECT_EQ(rep.checksum, want) << "rank " << r;
    EXPECT_EQ(rep.same_pointer, 1) << "rank " << r << ": view() copied instead of sharing";
  }
  // Later tasks on the same rank see the same decoded copy: the broadcast value stayed there.
  for (int r : executor_ranks())
    second.emplace_back(r, mpiray::task(view_report).on_rank(r).remote(ref));
  for (std::size_t i = 0; i < second.size(); ++i) {
    const ViewReport rep = second[i].second.get();
    EXPECT_EQ(rep.checksum, want);
    EXPECT_EQ(rep.same_pointer, 1);
    EXPECT_EQ(rep.address, reports[i].address)
        << "rank " << second[i].first << ": a second task decoded the broadcast value again";
  }
  // Resolved as a value argument, too.
  for (int r : executor_ranks())
    EXPECT_EQ(mpiray::task(sum_value).on_rank(r).remote(ref).get(), want) << "rank " << r;
}

TEST(ObjectsBroadcast, InsideATaskOnAWorkerIsRefusedWithConfigError) {
  if (mpiray::world_size() == 1)
    GTEST_SKIP() << "one process: tasks run on rank 0, the driver's rank";
  try {
    mpiray::task(broadcast_in_task).on_rank(last_executor()).remote().get();
    ADD_FAILURE() << "broadcast() inside a task on a worker was accepted";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.type(), "mpiray::ConfigError") << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// view()

TEST(ObjectsView, ZeroCopyOnTheOwnerAndValidAfterTheRefIsDropped) {
  const Vec v = make_doubles(kBig, 31);
  std::shared_ptr<const Vec> held;
  mpiray::detail::ObjectId id = 0;
  {
    auto ref = mpiray::put(v);
    id = ref.id();
    held = ref.view();
    auto again = ref.view();
    EXPECT_EQ(held.get(), again.get()) << "two views of one object: one decoded value";
    EXPECT_EQ(held->data(), again->data());
  }
  // The last ObjectRef is gone (the object is freed), the viewed value is not.
  ASSERT_TRUE(held);
  EXPECT_TRUE(*held == v);
  EXPECT_THROW(mpiray::ObjectRef<Vec>::borrow(id).get(), mpiray::ObjectError)
      << "the object itself was freed with its last reference";
}

TEST(ObjectsView, PutOfAMovedVectorKeepsItsStorageSoTheFirstViewCopiesNothing) {
  Vec v = make_doubles(kBig, 77);
  const auto want = checksum(v);
  const double* storage = v.data();
  auto ref = mpiray::put(std::move(v));
  auto first = ref.view();
  EXPECT_EQ(first->data(), storage) << "the first view() decoded a copy instead of the put value";
  EXPECT_EQ(checksum(*first), want);
  // A copied (lvalue) put is copied exactly once, at put(): its first view is already that copy.
  const Vec w = make_doubles(kBig, 78);
  auto ref2 = mpiray::put(w);
  auto a = ref2.view();
  auto b = ref2.view();
  EXPECT_NE(a->data(), w.data());
  EXPECT_EQ(a.get(), b.get());
  EXPECT_TRUE(*a == w);
}

TEST(ObjectsView, StringsAndByteVectorsFetchedFromAnotherRankAreExact) {
  // Plain-element strings and vectors land in place on the reader; other types are decoded.
  std::string text(3 * kMiB + 7, 'x');
  for (std::size_t i = 0; i < text.size(); i += 4099) text[i] = static_cast<char>('a' + i % 26);
  auto sref = mpiray::put(text);
  std::vector<std::int16_t> shorts(kMiB + 3);
  for (std::size_t i = 0; i < shorts.size(); ++i) shorts[i] = static_cast<std::int16_t>(i * 7);
  auto vref = mpiray::put(shorts);
  for (int r : executor_ranks()) {
    EXPECT_EQ(mpiray::task(string_checksum).on_rank(r).remote(sref).get(),
              objtest::checksum_bytes(text))
        << "rank " << r;
    EXPECT_EQ(mpiray::task(shorts_checksum).on_rank(r).remote(vref).get(),
              objtest::checksum_bytes(std::string(reinterpret_cast<const char*>(shorts.data()),
                                                  shorts.size() * sizeof(std::int16_t))))
        << "rank " << r;
  }
}

// Same-node reads: a large task result is made in its rank's shared-memory segment and read by
// the node's other ranks with memcpy; a put vector (kept as itself) is read with MPI_Get. With
// MPIRAY_SHM_MB=0 (the objects_noshm registration) everything goes through the window.
TEST(ObjectsSharedMemory, TaskResultsAreReadFromTheSegmentAndPutsThroughTheWindow) {
  if (mpiray::world_size() == 1) GTEST_SKIP() << "one process reads nothing from other ranks";
  const char* shm = std::getenv("MPIRAY_SHM_MB");
  const bool segments = !(shm && std::string(shm) == "0");
  const int owner = last_executor();
  auto result =
      mpiray::task(make_vec).on_rank(owner).remote(std::uint64_t(kBig), std::uint64_t(51));
  auto put_ref =
      mpiray::task(put_here).on_rank(owner).remote(std::uint64_t(kBig), std::uint64_t(52)).get();
  mpiray::wait(std::vector<mpiray::ObjectRef<Vec>>{result}, 1);
  const auto before = mpiray::detail::fetch_counters();
  EXPECT_EQ(checksum(*result.view()), checksum(make_doubles(kBig, 51)));
  const auto mid = mpiray::detail::fetch_counters();
  EXPECT_EQ(checksum(*put_ref.view()), checksum(make_doubles(kBig, 52)));
  const auto after = mpiray::detail::fetch_counters();
  const std::uint64_t bytes = kBig * sizeof(double);
  if (segments) {
    EXPECT_EQ(mid.shared - before.shared, bytes) << "the task result did not come from the segment";
    EXPECT_EQ(mid.window - before.window, 0u);
  } else {
    EXPECT_EQ(mid.shared - before.shared, 0u);
    EXPECT_EQ(mid.window - before.window, bytes);
  }
  EXPECT_EQ(after.window - mid.window, bytes) << "the put vector was not read with MPI_Get";
  EXPECT_EQ(after.shared - mid.shared, 0u);
}

TEST(ObjectsView, ZeroCopyOnAWorkerOwner) {
  for (int r : executor_ranks()) {
    const ViewReport rep =
        mpiray::task(owner_view).on_rank(r).remote(std::uint64_t(kBig), std::uint64_t(8)).get();
    EXPECT_EQ(rep.rank, r);
    EXPECT_EQ(rep.same_pointer, 1) << "rank " << r;
    EXPECT_EQ(rep.checksum, checksum(make_doubles(kBig, 8))) << "rank " << r;
  }
}

TEST(ObjectsView, ViewOfAValueHeldElsewhereIsCachedOnTheReader) {
  const int owner = last_executor();
  auto made = mpiray::task(make_vec).on_rank(owner).remote(std::uint64_t(kBig), std::uint64_t(9));
  auto a = made.view();
  auto b = made.view();
  EXPECT_EQ(a.get(), b.get());
  EXPECT_TRUE(*a == make_doubles(kBig, 9));
}

// ---------------------------------------------------------------------------------------------
// errors

TEST(ObjectsErrors, GetAndViewOfAFailedTaskRethrowItsTaskError) {
  auto bad = mpiray::task(fail_always).on_rank(last_executor()).remote(42);
  for (int k = 0; k < 2; ++k) {
    try {
      bad.get();
      ADD_FAILURE() << "get() of a failed task returned";
    } catch (const mpiray::TaskError& e) {
      EXPECT_EQ(e.function(), "fail_always");
      EXPECT_EQ(e.type(), "std::runtime_error");
      EXPECT_EQ(e.message(), "boom 42");
    }
  }
  EXPECT_THROW(bad.view(), mpiray::TaskError);
  // A dependent that reads the failed result gets the producer's error, also through view().
  auto dependent = mpiray::task(fail_always).remote(bad);
  EXPECT_THROW(dependent.view(), mpiray::TaskError);
}

TEST(ObjectsErrors, UnknownIdThrowsObjectErrorOnTheDriver) {
  const mpiray::detail::ObjectId never = (std::uint64_t(1) << 43) + 12345;  // rank 0's range
  auto ref = mpiray::ObjectRef<int>::borrow(never);
  EXPECT_THROW(ref.get(), mpiray::ObjectError);
  EXPECT_THROW(ref.view(), mpiray::ObjectError);
}

TEST(ObjectsErrors, FreedIdThrowsObjectErrorOnTheDriver) {
  mpiray::detail::ObjectId id = 0;
  {
    auto ref = mpiray::put(make_doubles(kBig, 5));
    id = ref.id();
    EXPECT_TRUE(ref.ready());
  }
  EXPECT_THROW(mpiray::ObjectRef<Vec>::borrow(id).get(), mpiray::ObjectError);
  // A worker's value freed after its last reference went away.
  mpiray::detail::ObjectId wid = 0;
  {
    auto r = mpiray::task(make_vec)
                 .on_rank(last_executor())
                 .remote(std::uint64_t(kBig), std::uint64_t(6));
    r.get();
    wid = r.id();
  }
  EXPECT_THROW(mpiray::ObjectRef<Vec>::borrow(wid).get(), mpiray::ObjectError);
}

TEST(ObjectsErrors, UnknownOrFreedIdInsideATaskThrowsObjectError) {
  mpiray::detail::ObjectId freed = 0;
  {
    auto ref = mpiray::put(123);
    freed = ref.id();
  }
  const mpiray::detail::ObjectId never = (std::uint64_t(1) << 43) + 777;
  for (int r : executor_ranks()) {
    EXPECT_EQ(mpiray::task(read_bad_id).on_rank(r).remote(never).get(), 1)
        << "rank " << r << ": 1 = ObjectError, 2 = TaskError, 3 = other, 4 = timeout, 0 = no error";
    EXPECT_EQ(mpiray::task(read_bad_id).on_rank(r).remote(freed).get(), 1) << "rank " << r;
  }
}

TEST(ObjectsErrors, TypeMismatchThrowsObjectError) {
  const Vec v = make_doubles(1000, 12);
  auto ref = mpiray::put(v);
  auto wrong = mpiray::ObjectRef<std::vector<int>>::borrow(ref.id());
  EXPECT_THROW(wrong.get(), mpiray::ObjectError);
  EXPECT_THROW(wrong.view(), mpiray::ObjectError);
  auto wrong_big =
      mpiray::ObjectRef<std::vector<float>>::borrow(mpiray::put(make_doubles(kBig, 13)).id());
  EXPECT_THROW(wrong_big.get(), mpiray::ObjectError);
  EXPECT_TRUE(ref.get() == v) << "the object is unharmed";
  // A value held on a worker, read with the wrong type by the driver.
  auto made = mpiray::task(make_vec)
                  .on_rank(last_executor())
                  .remote(std::uint64_t(kBig), std::uint64_t(14));
  made.get();
  EXPECT_THROW(mpiray::ObjectRef<std::vector<std::int64_t>>::borrow(made.id()).get(),
               mpiray::ObjectError);
}

}  // namespace
