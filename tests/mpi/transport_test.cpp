// The transport end to end: messages between ranks of one node go through shared-memory rings,
// including ones too large for a ring (a marker, then MPI) and bursts that fill a ring (they wait
// on the sender, in order). Run again with MPIRAY_SHM_MAILBOX=0, where every message is MPI.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

// Returns a string as long as its argument, each byte derived from the input's first byte and
// its position: a lost, cut or reordered byte changes the result.
std::string transform(std::string s) {
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((s[0] + i * 7) & 0x7f);
  return s;
}
std::string expected_transform(std::size_t n, char first) {
  std::string s(n, ' ');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((first + i * 7) & 0x7f);
  return s;
}
std::uint64_t append_step(std::uint64_t acc, std::string pad, int step) {
  // A chain's order check: acc encodes the steps seen so far; pad makes the message big.
  return acc * 31 + step + static_cast<std::uint64_t>(pad.size() % 3);
}

}  // namespace

MPIRAY_REMOTE(transform, append_step);

namespace {

using namespace mpiray_test;

bool rings_expected() {
  const char* off = std::getenv("MPIRAY_SHM_MAILBOX");
  return mpiray::world_size() > 1 && !(off && std::string(off) == "0");
}

TEST(Transport, MessagesLargerThanARingArriveWhole) {
  const auto before = mpiray::detail::transport_counters();
  EXPECT_EQ(before.rings, rings_expected());
  // 40 KiB arguments travel inside the task (below the inline limit) but exceed a ring's
  // largest message, and so do the results.
  std::vector<mpiray::ObjectRef<std::string>> refs;
  for (int i = 0; i < 12; ++i) {
    std::string arg(40 * 1024 + i, static_cast<char>('A' + i));
    refs.push_back(mpiray::task(transform).remote(arg));
  }
  for (int i = 0; i < 12; ++i) {
    const std::string got = refs[i].get();
    EXPECT_EQ(got, expected_transform(40 * 1024 + i, static_cast<char>('A' + i))) << "task " << i;
  }
  EXPECT_EQ(mpiray::task(transform).remote(std::string("small")).get(), expected_transform(5, 's'));
  const auto after = mpiray::detail::transport_counters();
  if (rings_expected()) {
    EXPECT_GT(after.ring_sent, before.ring_sent) << "the small task did not go through a ring";
    EXPECT_GT(after.ring_overflow, before.ring_overflow) << "the large ones did not go by MPI";
  } else {
    EXPECT_EQ(after.ring_sent, 0u);
    EXPECT_EQ(after.ring_overflow, 0u);
  }
}

TEST(Transport, BurstsThatFillRingsKeepEachSendersOrder) {
  // Hundreds of mid-size tasks at once fill the rings both ways (the executes to the workers,
  // the results back); small ones in between must not overtake them.
  const int n = 600;
  std::vector<mpiray::ObjectRef<std::string>> refs;
  for (int i = 0; i < n; ++i) {
    const std::size_t len = (i % 3 == 0) ? 9000 + i : 1 + i % 17;
    refs.push_back(
        mpiray::task(transform).remote(std::string(len, static_cast<char>('a' + i % 26))));
  }
  std::vector<std::string> got = mpiray::get(refs);
  for (int i = 0; i < n; ++i) {
    const std::size_t len = (i % 3 == 0) ? 9000 + i : 1 + i % 17;
    ASSERT_EQ(got[i], expected_transform(len, static_cast<char>('a' + i % 26))) << "task " << i;
  }
}

TEST(Transport, ChainsAcrossRanksWithLargeMessagesKeepTheirOrder) {
  // Each step of each chain is pinned to a rank in turn and carries a pad that alternates
  // between ring-sized and ring-exceeding, so consecutive protocol records between two ranks
  // take both paths. A record overtaking an earlier one (a value before the task waiting for it,
  // say) would hang or change the result.
  const std::vector<int> ranks = executor_ranks();
  const int chains = 4, steps = 24;
  std::vector<mpiray::ObjectRef<std::uint64_t>> heads;
  for (int c = 0; c < chains; ++c) {
    mpiray::ObjectRef<std::uint64_t> acc = mpiray::put<std::uint64_t>(c);
    for (int s = 0; s < steps; ++s) {
      const int rank = ranks[(c + s) % ranks.size()];
      const std::size_t pad = (s % 2 == 0) ? 100 : 36 * 1024;
      acc = mpiray::task(append_step).on_rank(rank).remote(acc, std::string(pad, 'p'), s);
    }
    heads.push_back(acc);
  }
  for (int c = 0; c < chains; ++c) {
    std::uint64_t want = c;
    for (int s = 0; s < steps; ++s)
      want = want * 31 + s + static_cast<std::uint64_t>(((s % 2 == 0) ? 100 : 36 * 1024) % 3);
    EXPECT_EQ(heads[c].get(), want) << "chain " << c;
  }
}

}  // namespace
