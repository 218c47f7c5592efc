// Value types across ranks: strings, vectors, maps, user structs, tuples, void results.

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

struct Body {  // not trivially copyable: goes through Boost.Serialization
  std::string name;
  std::vector<double> position;
  double mass = 0;
  template <class Archive>
  void serialize(Archive& ar, const unsigned int /*version*/) {
    ar & name & position & mass;
  }
};

struct Pixel {  // trivially copyable: goes as raw bytes
  unsigned char r, g, b;
  float alpha;
};

std::string shout(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out + "!";
}
std::vector<double> scale(std::vector<double> v, double k) {
  for (double& x : v) x *= k;
  return v;
}
std::map<std::string, int> count_words(const std::string& text) {
  std::map<std::string, int> counts;
  std::istringstream in(text);
  for (std::string w; in >> w;) ++counts[w];
  return counts;
}
std::vector<std::string> split_chars(std::string s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}
Body move_body(Body b, double dx) {
  for (double& p : b.position) p += dx;
  b.name += " (moved)";
  return b;
}
Pixel invert(Pixel p) { return Pixel{static_cast<unsigned char>(255 - p.r), static_cast<unsigned char>(255 - p.g), static_cast<unsigned char>(255 - p.b), 1.0f - p.alpha}; }
std::tuple<int, std::string, double> describe(int n) { return {n, std::to_string(n), n / 2.0}; }

std::mutex g_mu;
std::set<int> g_recorded;  // per process: keys recorded by record_key on this rank
void record_key(int key) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_recorded.insert(key);
}
bool has_key(int key) {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_recorded.count(key) > 0;
}
void void_that_throws(int key) { throw std::logic_error("void task failed " + std::to_string(key)); }

}  // namespace

MPIRAY_REMOTE(shout, scale, count_words, split_chars, move_body, invert, describe, record_key);
MPIRAY_REMOTE(has_key, void_that_throws);

namespace {

using namespace mpiray_test;

TEST(Types, StdString) {
  EXPECT_EQ(mpiray::task(shout).remote(std::string("hello")).get(), "HELLO!");
  EXPECT_EQ(mpiray::task(shout).remote("from a literal").get(), "FROM A LITERAL!");
  EXPECT_EQ(mpiray::task(shout).remote(std::string()).get(), "!");
  const std::string big(300000, 'a');
  EXPECT_EQ(mpiray::task(shout).remote(big).get(), std::string(300000, 'A') + "!");
}

TEST(Types, VectorOfDouble) {
  EXPECT_EQ(mpiray::task(scale).remote(std::vector<double>{1.0, -2.5, 4.0}, 2.0).get(),
            (std::vector<double>{2.0, -5.0, 8.0}));
  EXPECT_TRUE(mpiray::task(scale).remote(std::vector<double>{}, 3.0).get().empty());
  std::vector<double> big(500000);
  std::iota(big.begin(), big.end(), 0.0);
  const std::vector<double> out = mpiray::task(scale).remote(big, 0.5).get();
  ASSERT_EQ(out.size(), big.size());
  EXPECT_EQ(out[499999], 499999 * 0.5);
}

TEST(Types, MapOfStringToInt) {
  const std::map<std::string, int> expected{{"a", 2}, {"b", 1}, {"c", 3}};
  EXPECT_EQ(mpiray::task(count_words).remote(std::string("c a b c a c")).get(), expected);
  EXPECT_TRUE(mpiray::task(count_words).remote(std::string("   ")).get().empty());
}

TEST(Types, VectorOfStrings) {
  EXPECT_EQ(mpiray::task(split_chars).remote(std::string("xyz")).get(),
            (std::vector<std::string>{"x", "y", "z"}));
}

TEST(Types, UserStructWithSerialize) {
  const Body b{"probe", {1.0, 2.0, 3.0}, 72.5};
  const Body moved = mpiray::task(move_body).remote(b, 0.5).get();
  EXPECT_EQ(moved.name, "probe (moved)");
  EXPECT_EQ(moved.position, (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(moved.mass, 72.5);
  // A struct result can feed the next task through its ref.
  const Body twice = mpiray::task(move_body).remote(mpiray::task(move_body).remote(b, 1.0), 1.0).get();
  EXPECT_EQ(twice.position, (std::vector<double>{3.0, 4.0, 5.0}));
}

TEST(Types, TriviallyCopyableStruct) {
  const Pixel p = mpiray::task(invert).remote(Pixel{10, 20, 30, 0.25f}).get();
  EXPECT_EQ(p.r, 245);
  EXPECT_EQ(p.g, 235);
  EXPECT_EQ(p.b, 225);
  EXPECT_FLOAT_EQ(p.alpha, 0.75f);
}

TEST(Types, Tuple) {
  const auto t = mpiray::task(describe).remote(7).get();
  EXPECT_EQ(std::get<0>(t), 7);
  EXPECT_EQ(std::get<1>(t), "7");
  EXPECT_EQ(std::get<2>(t), 3.5);
}

TEST(Types, VoidFunctionRunsAndItsRefCanBeWaitedOn) {
  const int rank = last_executor();
  const int key = unique_key();
  EXPECT_FALSE(mpiray::task(has_key).on_rank(rank).remote(key).get());
  mpiray::ObjectRef<void> done = mpiray::task(record_key).on_rank(rank).remote(key);
  static_assert(std::is_same_v<decltype(done)::value_type, void>);
  done.get();  // returns once the task ran
  EXPECT_TRUE(done.ready());
  EXPECT_TRUE(mpiray::task(has_key).on_rank(rank).remote(key).get());
  std::vector<mpiray::ObjectRef<void>> many;
  for (int i = 0; i < 20; ++i) many.push_back(mpiray::task(record_key).remote(key + 100000 + i));
  auto [ready, pending] = mpiray::wait(many, many.size());
  EXPECT_EQ(ready.size(), 20u);
  EXPECT_TRUE(pending.empty());
}

TEST(Types, VoidFunctionThatThrowsReportsTheError) {
  auto r = mpiray::task(void_that_throws).remote(5);
  try {
    r.get();
    FAIL() << "expected TaskError";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.type(), "std::logic_error");
    EXPECT_EQ(e.message(), "void task failed 5");
  }
}

}  // namespace
