// Object store, large values: a 256 MiB put on the driver read by tasks on other ranks (through
// the executor's one-sided fetch for a value argument, and through get()/view() inside the task).
// Memory is kept sane: the source vector is dropped right after the put, every reader checks a
// hash instead of keeping copies, and the readers run one after the other.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "objects/objects_support.hpp"

namespace {

using Words = std::vector<std::uint64_t>;
using objtest::checksum;
using objtest::kMiB;

struct BigReport {
  std::uint64_t checksum;
  std::uint64_t size;
  std::int32_t rank;
};

BigReport check_value(Words v) { return BigReport{checksum(v), v.size(), mpiray::rank()}; }
BigReport check_view(mpiray::ObjectRef<Words> r) {
  auto v = r.view();
  return BigReport{checksum(*v), v->size(), mpiray::rank()};
}

}  // namespace

MPIRAY_REMOTE(check_value, check_view);

namespace {

using namespace mpiray_test;

TEST(ObjectsLarge, Put256MiBIsReadExactlyOnOtherRanks) {
  const std::size_t n = 256 * kMiB / sizeof(std::uint64_t);
  std::uint64_t want = 0;
  mpiray::ObjectRef<Words> ref;
  {
    const Words v = objtest::make_words(n, 2024);
    want = checksum(v);
    ref = mpiray::put(v);
  }  // only the store's copy is left on the driver
  const int a = last_executor();
  const int b = first_executor();

  const BigReport by_value = mpiray::task(check_value).on_rank(a).remote(ref).get();
  EXPECT_EQ(by_value.rank, a);
  EXPECT_EQ(by_value.size, n);
  EXPECT_EQ(by_value.checksum, want) << "value argument fetched by rank " << a;

  const BigReport by_view = mpiray::task(check_view).on_rank(b).remote(ref).get();
  EXPECT_EQ(by_view.rank, b);
  EXPECT_EQ(by_view.size, n);
  EXPECT_EQ(by_view.checksum, want) << "view() inside a task on rank " << b;

  {
    auto v = ref.view();
    EXPECT_EQ(v->size(), n);
    EXPECT_EQ(checksum(*v), want) << "driver's view";
  }
}

}  // namespace
