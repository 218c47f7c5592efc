// IdTable: a direct-mapped table by object id with a map for ids whose slot is taken. It must
// behave like a map for any pattern of ids, and an erased entry must come back fresh.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "object_store/id_table.hpp"

namespace {

using mpiray::detail::IdTable;
using mpiray::detail::ObjectId;

struct Value {
  int refs = 0;
  std::vector<int> copies;
};

TEST(IdTable, GetMakesFreshValuesAndEraseForgetsThem) {
  IdTable<Value, 64> t;
  EXPECT_EQ(t.find(5), nullptr);
  Value& v = t.get(5);
  v.refs = 3;
  v.copies = {1, 2};
  EXPECT_EQ(&t.get(5), &v) << "get() of a present id returns its value";
  EXPECT_EQ(t.get(5).refs, 3);
  EXPECT_TRUE(t.erase(5));
  EXPECT_FALSE(t.erase(5));
  EXPECT_EQ(t.find(5), nullptr);
  // The slot is reused by the next id that maps to it, with a fresh value.
  EXPECT_EQ(t.find(5 + 64), nullptr);
  Value& w = t.get(5 + 64);
  EXPECT_EQ(w.refs, 0);
  EXPECT_TRUE(w.copies.empty());
  EXPECT_EQ(t.size(), 1u);
}

TEST(IdTable, UnusedTableAnswersEveryCallBeforeItsFirstEntry) {
  // The slot arrays come with the first insert: every call must work before it.
  IdTable<Value, 64> t;
  EXPECT_EQ(t.find(7), nullptr);
  EXPECT_FALSE(t.erase(7));
  EXPECT_EQ(t.take(7).refs, 0);
  int seen = 0;
  t.for_each([&](ObjectId, Value&) { ++seen; });
  EXPECT_EQ(seen, 0);
  EXPECT_TRUE(t.empty());
  t.get(7).refs = 2;
  t.get(7 + 64).refs = 5;  // its slot is taken: the map
  EXPECT_EQ(t.find(7)->refs, 2);
  EXPECT_EQ(t.find(7 + 64)->refs, 5);
  t.for_each([&](ObjectId, Value&) { ++seen; });
  EXPECT_EQ(seen, 2);
}

TEST(IdTable, SlotSharersLiveInTheMapAndForEachSeesAll) {
  IdTable<Value, 64> t;
  for (ObjectId k = 0; k < 5; ++k) t.get(3 + 64 * k).refs = static_cast<int>(k) + 1;
  EXPECT_EQ(t.overflowed(), 4u);
  Value* first = t.find(3);
  ASSERT_NE(first, nullptr);
  for (ObjectId k = 1; k < 5; ++k) t.get(1000 + k);  // other inserts: references stay valid
  EXPECT_EQ(first, t.find(3));
  std::map<ObjectId, int> seen;
  t.for_each([&](ObjectId id, Value& v) { seen[id] = v.refs; });
  EXPECT_EQ(seen.size(), 9u);
  for (ObjectId k = 0; k < 5; ++k) EXPECT_EQ(seen[3 + 64 * k], static_cast<int>(k) + 1);
  EXPECT_EQ(t.take(3 + 64 * 2).refs, 3);
  EXPECT_EQ(t.find(3 + 64 * 2), nullptr);
  EXPECT_EQ(t.take(3 + 64 * 2).refs, 0) << "absent: a fresh value";
  EXPECT_EQ(t.size(), 8u);
}

TEST(IdTable, BehavesLikeAMapUnderRandomUse) {
  std::mt19937_64 rng(7);
  IdTable<Value, 256> t;
  std::map<ObjectId, int> model;
  ObjectId next = 1;
  std::size_t most_overflowed = 0;
  for (int step = 0; step < 100000; ++step) {
    if (model.size() < 20 || (model.size() < 600 && rng() % 2 == 0)) {
      const ObjectId id = (rng() % 8 == 0) ? (ObjectId{1} << 44) + rng() % 100000 : next++;
      const int v = static_cast<int>(rng() % 1000);
      t.get(id).refs = v;
      model[id] = v;
    } else {
      auto it = model.begin();
      if (rng() % 3 == 0) std::advance(it, static_cast<long>(rng() % model.size()));
      ASSERT_TRUE(t.erase(it->first));
      model.erase(it);
    }
    ASSERT_EQ(t.size(), model.size());
    most_overflowed = std::max(most_overflowed, t.overflowed());
    if (step % 499 == 0) {
      for (const auto& [id, v] : model) ASSERT_EQ(t.find(id)->refs, v) << id;
      std::size_t n = 0;
      t.for_each([&](ObjectId id, Value& v) {
        ++n;
        ASSERT_EQ(model.at(id), v.refs);
      });
      ASSERT_EQ(n, model.size());
    }
  }
  EXPECT_GT(most_overflowed, 0u) << "the random use must exercise the map";
}

}  // namespace
