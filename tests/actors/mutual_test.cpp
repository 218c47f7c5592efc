// Two actors that call each other, on one rank with one thread: a method blocked in get() must
// not hold the rank's only thread (run with --mpiray-threads 1).
#include <gtest/gtest.h>

#include "actors/actor_classes.hpp"
#include "mpi/mpi_test_support.hpp"

using actor_test::Relay;

namespace {

TEST(ActorsMutual, ActorsOnOneSingleThreadedRankCallEachOther) {
  const int r = mpiray_test::first_executor();
  auto a = mpiray::actor<Relay>(1).on_rank(r).remote();
  auto b = mpiray::actor<Relay>(2).on_rank(r).remote();
  EXPECT_EQ(a.task(&Relay::ask).remote(b).get(), 21);
  EXPECT_EQ(b.task(&Relay::ask).remote(a).get(), 12);
  // Both directions in flight at the same time (each waits on the other's id(), which runs
  // only when the other is not busy: a call that does not wait keeps this deadlock-free).
  auto x = a.task(&Relay::ask).remote(b);
  auto y = b.task(&Relay::id).remote();
  EXPECT_EQ(x.get(), 21);
  EXPECT_EQ(y.get(), 2);
}

TEST(ActorsMutual, ActorsOnDifferentRanksCallEachOther) {
  const int ra = mpiray_test::first_executor();
  const int rb = mpiray_test::last_executor();
  auto a = mpiray::actor<Relay>(3).on_rank(ra).remote();
  auto b = mpiray::actor<Relay>(4).on_rank(rb).remote();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(a.task(&Relay::ask).remote(b).get(), 43);
    EXPECT_EQ(b.task(&Relay::ask).remote(a).get(), 34);
  }
}

}  // namespace
