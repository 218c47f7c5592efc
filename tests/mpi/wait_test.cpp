// mpiray::wait and get with timeouts, against tasks held pending by a Gate (see gate.hpp).

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

#include "mpi/gate.hpp"

namespace {

int plus_one(int x) { return x + 1; }
int fails_always(int x) { throw std::runtime_error("failing on purpose: " + std::to_string(x)); }

}  // namespace

MPIRAY_REMOTE(mpiray_test::gate_wait, mpiray_test::open_gate, plus_one, fails_always);

namespace {

using namespace mpiray_test;
using namespace std::chrono_literals;
using Refs = std::vector<mpiray::ObjectRef<int>>;

// Safety net for waits that must return by themselves: if wait() is broken, the test fails after
// this long instead of hanging (it is never reached when the runtime works).
constexpr auto kSafety = 30s;

// wait() that must return by itself once `num` are ready: fails the test if it only came back
// because the safety-net timeout expired.
std::pair<Refs, Refs> wait_for(const Refs& refs, std::size_t num) {
  const auto start = std::chrono::steady_clock::now();
  auto out = mpiray::wait(refs, num, kSafety);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kSafety / 2)
      << "wait(" << num << ") did not return when " << num << " objects were ready";
  return out;
}

std::vector<mpiray::detail::ObjectId> ids_of(const Refs& refs) {
  std::vector<mpiray::detail::ObjectId> out;
  for (const auto& r : refs) out.push_back(r.id());
  return out;
}

// refs = [ready0, held0, ready1, held1, ...]: `n` tasks that can run and `n` behind the gate.
Refs interleaved(const Gate& gate, int n, Refs* ready, Refs* held) {
  Refs all;
  for (int i = 0; i < n; ++i) {
    ready->push_back(mpiray::task(plus_one).remote(i));
    held->push_back(mpiray::task(plus_one).remote(gate.ref()));
    all.push_back(ready->back());
    all.push_back(held->back());
  }
  return all;
}

TEST(Wait, GatedTasksStayPendingUntilTheGateOpens) {
  Gate gate(last_executor());
  auto held = mpiray::task(plus_one).remote(gate.ref());
  EXPECT_FALSE(held.ready());
  EXPECT_FALSE(gate.ref().ready());
  gate.open();
  EXPECT_EQ(held.get(), 2);
  EXPECT_EQ(gate.ref().get(), 1);
}

TEST(Wait, ReturnsTheReadyOnesInInputOrderAndTheRestPending) {
  Gate gate(last_executor());
  Refs ready, held;
  const Refs all = interleaved(gate, 4, &ready, &held);
  auto [done, pending] = wait_for(all, 4);  // only the four runnable can finish
  EXPECT_EQ(ids_of(done), ids_of(ready));
  EXPECT_EQ(ids_of(pending), ids_of(held));
  for (const auto& r : done) EXPECT_TRUE(r.ready());
  for (const auto& r : pending) EXPECT_FALSE(r.ready());
  gate.open();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ready[i].get(), i + 1);
    EXPECT_EQ(held[i].get(), 2);
  }
}

TEST(Wait, ReturnsAtMostNumReadyEvenWhenMoreAreReady) {
  Refs refs;
  for (int i = 0; i < 10; ++i) refs.push_back(mpiray::task(plus_one).remote(i));
  mpiray::get(refs);  // all ten are ready now
  auto [done, pending] = wait_for(refs, 3);
  ASSERT_EQ(done.size(), 3u);
  ASSERT_EQ(pending.size(), 7u);
  EXPECT_EQ(ids_of(done), ids_of(Refs(refs.begin(), refs.begin() + 3))) << "first in input order";
  EXPECT_EQ(ids_of(pending), ids_of(Refs(refs.begin() + 3, refs.end())));

  auto [all, none] = wait_for(refs, 100);  // num above the size: everything
  EXPECT_EQ(all.size(), 10u);
  EXPECT_TRUE(none.empty());
  auto [zero_ready, zero_pending] = mpiray::wait(Refs{}, 1);
  EXPECT_TRUE(zero_ready.empty());
  EXPECT_TRUE(zero_pending.empty());
}

TEST(Wait, TimeoutReturnsWhatIsReadySoFar) {
  Gate gate(last_executor());
  Refs ready, held;
  const Refs all = interleaved(gate, 3, &ready, &held);
  mpiray::get(ready);
  const auto start = std::chrono::steady_clock::now();
  auto [done, pending] = mpiray::wait(all, all.size(), 100ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms) << "the gated tasks cannot finish";
  EXPECT_EQ(ids_of(done), ids_of(ready));
  EXPECT_EQ(ids_of(pending), ids_of(held));
}

TEST(Wait, FailedTaskCountsAsReady) {
  Gate gate(last_executor());
  Refs refs{mpiray::task(plus_one).remote(gate.ref()), mpiray::task(fails_always).remote(1)};
  auto [done, pending] = wait_for(refs, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id(), refs[1].id());
  EXPECT_THROW(done[0].get(), mpiray::TaskError);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id(), refs[0].id());
}

TEST(GetTimeout, ThrowsTimeoutErrorWhileTheObjectIsPending) {
  Gate gate(last_executor());
  auto held = mpiray::task(plus_one).remote(gate.ref());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(held.get(50ms), mpiray::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_THROW(mpiray::get(Refs{mpiray::task(plus_one).remote(1), held}, 50ms),
               mpiray::TimeoutError);
  try {
    held.get(1ms);
    FAIL() << "expected TimeoutError";
  } catch (const mpiray::TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("timeout"), std::string::npos) << e.what();
  }
  gate.open();
  EXPECT_EQ(held.get(30s), 2) << "after a timeout the ref is still usable";
}

TEST(GetTimeout, ReadyObjectIsReturnedEvenWithATinyTimeout) {
  auto r = mpiray::task(plus_one).remote(41);
  r.get();
  EXPECT_EQ(r.get(0ms), 42);
  EXPECT_EQ(mpiray::get(Refs{r, r}, 0ms), (std::vector<int>{42, 42}));
}

}  // namespace
