// ShmMailbox without MPI: "ranks" are threads sharing inboxes in ordinary memory, which is what
// the transport maps from MPI_Win_allocate_shared.

#include "transport/shm_mailbox.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace mpiray::detail {
namespace {

using namespace std::chrono_literals;

/// Inboxes for `n` ranks in one aligned block, constructed as each rank would its own.
struct Node {
  explicit Node(int n) : n_(n), bytes_(ShmMailbox::inbox_bytes(n)) {
    mem_ = static_cast<char*>(std::aligned_alloc(64, bytes_ * n));
    for (int r = 0; r < n; ++r) ShmMailbox::construct(mem_ + bytes_ * r, n);
  }
  ~Node() { std::free(mem_); }
  std::unique_ptr<ShmMailbox> rank(int me) {
    std::vector<void*> inboxes;
    for (int r = 0; r < n_; ++r) inboxes.push_back(mem_ + bytes_ * r);
    return std::make_unique<ShmMailbox>(inboxes, me);
  }
  int n_;
  std::size_t bytes_;
  char* mem_;
};

/// Collects what poll() hands over; markers are accepted once `mpi_ready` says so.
struct Collector : ShmMailbox::Visitor {
  std::vector<std::pair<int, std::string>> got;
  std::vector<int> markers;
  bool mpi_ready = true;
  void message(int source, const char* data, std::size_t size) override {
    got.emplace_back(source, std::string(data, size));
  }
  bool marker(int source) override {
    if (!mpi_ready) return false;
    markers.push_back(source);
    got.emplace_back(source, "<mpi>");
    return true;
  }
};

/// Puts `m` to sleep (30 s timeout) on another thread, runs `while_asleep` once it announced
/// its sleep, and returns how long it slept: far below the timeout iff something woke it.
template <class Action>
std::chrono::steady_clock::duration time_sleep_until(ShmMailbox& m, Action&& while_asleep) {
  std::atomic<bool> asleep{false};
  std::chrono::steady_clock::duration slept{};
  std::thread sleeper([&] {
    const auto t0 = std::chrono::steady_clock::now();
    m.wait(std::chrono::microseconds(30'000'000), [&] {
      asleep = true;
      return false;
    });
    slept = std::chrono::steady_clock::now() - t0;
  });
  while (!asleep) std::this_thread::yield();
  while_asleep();
  sleeper.join();
  return slept;
}

TEST(ShmMailbox, MessagesArriveWholeAndInOrderPerSender) {
  Node node(3);
  auto a = node.rank(0), b = node.rank(1), c = node.rank(2);
  EXPECT_FALSE(c->any_waiting());
  ASSERT_EQ(a->push(2, "one", 3), ShmMailbox::Push::kDone);
  ASSERT_EQ(b->push(2, "x", 1), ShmMailbox::Push::kDone);
  ASSERT_EQ(a->push(2, "", 0), ShmMailbox::Push::kDone);  // empty messages exist too
  ASSERT_EQ(a->push(2, "three", 5), ShmMailbox::Push::kDone);
  EXPECT_TRUE(c->any_waiting());
  Collector col;
  EXPECT_EQ(c->poll(col, 64), 4);
  ASSERT_EQ(col.got.size(), 4u);
  // Sender 0's three in its order, then sender 1's.
  EXPECT_EQ(col.got[0], (std::pair<int, std::string>{0, "one"}));
  EXPECT_EQ(col.got[1], (std::pair<int, std::string>{0, ""}));
  EXPECT_EQ(col.got[2], (std::pair<int, std::string>{0, "three"}));
  EXPECT_EQ(col.got[3], (std::pair<int, std::string>{1, "x"}));
  EXPECT_FALSE(c->any_waiting());
  EXPECT_EQ(c->poll(col, 64), 0);
}

TEST(ShmMailbox, PollStopsAtMax) {
  Node node(2);
  auto a = node.rank(0), b = node.rank(1);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(a->push(1, "m", 1), ShmMailbox::Push::kDone);
  Collector col;
  EXPECT_EQ(b->poll(col, 2), 2);
  EXPECT_EQ(b->poll(col, 64), 3);
}

TEST(ShmMailbox, ABusySenderDoesNotStarveTheOthers) {
  Node node(3);
  auto busy = node.rank(0), quiet = node.rank(1), reader = node.rank(2);
  ASSERT_EQ(quiet->push(2, "q", 1), ShmMailbox::Push::kDone);
  Collector col;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 64; ++i) ASSERT_EQ(busy->push(2, "b", 1), ShmMailbox::Push::kDone);
    reader->poll(col, 64);  // each poll is full before it reaches the end of the senders
  }
  const bool got_quiet =
      std::any_of(col.got.begin(), col.got.end(), [](const auto& m) { return m.first == 1; });
  EXPECT_TRUE(got_quiet) << "sender 1 was never read while sender 0 kept its ring busy";
}

TEST(ShmMailbox, FullRingRefusesWithoutWritingAndTooLargeIsNamed) {
  Node node(2);
  auto a = node.rank(0), b = node.rank(1);
  std::string big(ShmMailbox::kMaxMessage, 'b');
  EXPECT_EQ(a->push(1, big.data(), big.size() + 1), ShmMailbox::Push::kTooLarge);
  int pushed = 0;
  while (a->push(1, big.data(), big.size()) == ShmMailbox::Push::kDone) ++pushed;
  EXPECT_EQ(pushed, 1);  // two of half the ring plus their lengths do not fit
  EXPECT_EQ(a->push(1, big.data(), big.size()), ShmMailbox::Push::kFull);
  Collector col;
  EXPECT_EQ(b->poll(col, 64), 1);  // the refused push left nothing half-written
  ASSERT_EQ(col.got.size(), 1u);
  EXPECT_EQ(col.got[0].second, big);
  EXPECT_EQ(a->push(1, big.data(), big.size()), ShmMailbox::Push::kDone);  // room again
}

TEST(ShmMailbox, ReaderWakesASenderThatFoundTheRingFull) {
  Node node(2);
  auto a = node.rank(0), b = node.rank(1);
  std::string big(ShmMailbox::kMaxMessage, 'b');
  ASSERT_EQ(a->push(1, big.data(), big.size()), ShmMailbox::Push::kDone);
  ASSERT_EQ(a->push(1, big.data(), big.size()), ShmMailbox::Push::kFull);  // raises the flag
  Collector col;
  const auto slept = time_sleep_until(*a, [&] {
    EXPECT_EQ(b->poll(col, 8), 1);  // room now: the reader rings the sender's doorbell
  });
  EXPECT_LT(slept, std::chrono::seconds(10));
  EXPECT_EQ(b->rings_sent(), 1u);
  EXPECT_EQ(a->push(1, big.data(), big.size()), ShmMailbox::Push::kDone);
  // Without a full ring nobody is woken.
  EXPECT_EQ(b->poll(col, 8), 1);
  EXPECT_EQ(b->rings_sent(), 1u);
}

TEST(ShmMailbox, MarkerHoldsBackLaterMessagesUntilItsMpiMessageCame) {
  Node node(2);
  auto a = node.rank(0), b = node.rank(1);
  ASSERT_EQ(a->push(1, "before", 6), ShmMailbox::Push::kDone);
  ASSERT_TRUE(a->push_marker(1));
  ASSERT_EQ(a->push(1, "after", 5), ShmMailbox::Push::kDone);
  Collector col;
  col.mpi_ready = false;
  EXPECT_EQ(b->poll(col, 64), 1);  // "before" only: "after" must not overtake the MPI message
  // Nothing is readable until the MPI message comes, so a sleeper may sleep, briefly.
  EXPECT_FALSE(b->any_waiting());
  EXPECT_TRUE(b->marker_waiting());
  const auto t0 = std::chrono::steady_clock::now();
  b->wait(std::chrono::microseconds(30'000'000), [] { return false; });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));  // nap capped
  EXPECT_EQ(b->poll(col, 64), 0);
  col.mpi_ready = true;
  EXPECT_EQ(b->poll(col, 64), 2);
  EXPECT_FALSE(b->marker_waiting());
  ASSERT_EQ(col.got.size(), 3u);
  EXPECT_EQ(col.got[1].second, "<mpi>");
  EXPECT_EQ(col.got[2].second, "after");
  EXPECT_EQ(col.markers, std::vector<int>{0});
}

TEST(ShmMailbox, ConcurrentSendersWrapTheRingWithoutLoss) {
  // Two producer threads stream numbered messages of varying length through a 64 KiB ring
  // many times over; the consumer checks every byte and each sender's order.
  constexpr int kPerSender = 20000;
  Node node(3);
  auto consumer = node.rank(2);
  std::vector<std::thread> senders;
  for (int s = 0; s < 2; ++s) {
    senders.emplace_back([&node, s] {
      auto me = node.rank(s);
      std::string msg;
      for (int i = 0; i < kPerSender;) {
        const std::size_t len = 4 + static_cast<std::size_t>((i * 37 + s) % 3000);
        msg.assign(len, static_cast<char>('a' + (i % 26)));
        std::memcpy(msg.data(), &i, sizeof(i));
        if (me->push(2, msg.data(), msg.size()) == ShmMailbox::Push::kDone) {
          ++i;
        } else {
          std::this_thread::yield();  // full: the consumer catches up
        }
      }
    });
  }
  struct Checker : ShmMailbox::Visitor {
    int next[2] = {0, 0};
    int bad = 0;
    void message(int source, const char* data, std::size_t size) override {
      int i = -1;
      std::memcpy(&i, data, sizeof(i));
      const std::size_t len = 4 + static_cast<std::size_t>((i * 37 + source) % 3000);
      if (i != next[source] || size != len) ++bad;
      for (std::size_t k = 4; k < size; ++k)
        if (data[k] != static_cast<char>('a' + (i % 26))) ++bad;
      ++next[source];
    }
    bool marker(int) override { return true; }
  } check;
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while ((check.next[0] < kPerSender || check.next[1] < kPerSender) &&
         std::chrono::steady_clock::now() < give_up) {
    if (consumer->poll(check, 64) == 0) std::this_thread::yield();
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(check.next[0], kPerSender);
  EXPECT_EQ(check.next[1], kPerSender);
  EXPECT_EQ(check.bad, 0);
}

TEST(ShmMailbox, PushWakesASleeperLongBeforeItsTimeout) {
  Node node(2);
  auto a = node.rank(0), b = node.rank(1);
  // The sleeper may not be inside the futex yet: the ring's doorbell must wake it either way.
  const auto slept =
      time_sleep_until(*b, [&] { EXPECT_EQ(a->push(1, "wake", 4), ShmMailbox::Push::kDone); });
  EXPECT_LT(slept, std::chrono::seconds(10));
  EXPECT_EQ(a->rings_sent(), 1u);  // it saw the sleeper and rang
  Collector col;
  EXPECT_EQ(b->poll(col, 8), 1);
}

TEST(ShmMailbox, WakeEndsASleepAndReadyOrWaitingSkipsIt) {
  Node node(2);
  auto a = node.rank(0), b = node.rank(1);
  // A message already waiting: no sleep at all.
  ASSERT_EQ(a->push(1, "m", 1), ShmMailbox::Push::kDone);
  auto t0 = std::chrono::steady_clock::now();
  b->wait(std::chrono::microseconds(30'000'000), [] { return false; });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  // ready() true: no sleep either.
  Collector col;
  b->poll(col, 8);
  t0 = std::chrono::steady_clock::now();
  b->wait(std::chrono::microseconds(30'000'000), [] { return true; });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  // wake() from another thread of the rank.
  EXPECT_LT(time_sleep_until(*b, [&] { b->wake(); }), std::chrono::seconds(10));
  // A bounded sleep with nothing coming ends by its timeout.
  t0 = std::chrono::steady_clock::now();
  b->wait(std::chrono::microseconds(20'000), [] { return false; });
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(15'000));
}

}  // namespace
}  // namespace mpiray::detail
