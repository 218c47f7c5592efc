// detail::Codec: the value encodings used for task arguments, results and put objects.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "mpiray/detail/codec.hpp"

namespace {

using mpiray::detail::Codec;
using mpiray::detail::from_bytes;
using mpiray::detail::Reader;
using mpiray::detail::to_bytes;
using mpiray::detail::Writer;

struct PlainPoint {  // trivially copyable: travels as raw bytes
  double x;
  double y;
  std::int32_t tag;
};

struct Particle {  // not trivially copyable: travels through Boost.Serialization
  std::string name;
  std::vector<double> position;
  int charge = 0;
  template <class Archive>
  void serialize(Archive& ar, const unsigned int /*version*/) {
    ar & name & position & charge;
  }
};

bool operator==(const Particle& a, const Particle& b) {
  return a.name == b.name && a.position == b.position && a.charge == b.charge;
}

template <class T>
T round_trip(const T& v) {
  return from_bytes<T>(to_bytes(v));
}

TEST(Codec, TriviallyCopyableValuesRoundTripAsTheirBytes) {
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-7LL), -7LL);
  EXPECT_EQ(round_trip(3.25), 3.25);
  EXPECT_EQ(round_trip('z'), 'z');
  EXPECT_EQ(round_trip(true), true);
  // The fast path adds no header: exactly sizeof(T) bytes.
  EXPECT_EQ(to_bytes(42).size(), sizeof(int));
  EXPECT_EQ(to_bytes(2.5).size(), sizeof(double));

  const PlainPoint p{1.5, -2.5, 9};
  EXPECT_EQ(to_bytes(p).size(), sizeof(PlainPoint));
  const PlainPoint q = round_trip(p);
  EXPECT_EQ(q.x, 1.5);
  EXPECT_EQ(q.y, -2.5);
  EXPECT_EQ(q.tag, 9);
}

TEST(Codec, VectorOfDoublesRoundTripsAsElementBytes) {
  const std::vector<double> v{0.0, -1.5, 3.14159, 1e300, -0.0};
  EXPECT_EQ(to_bytes(v).size(), v.size() * sizeof(double));
  EXPECT_EQ(round_trip(v), v);
  EXPECT_TRUE(round_trip(std::vector<double>{}).empty());

  std::vector<double> big(100000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i) * 0.5;
  EXPECT_EQ(round_trip(big), big);
}

TEST(Codec, StringsRoundTripIncludingEmbeddedNulsAndEmpty) {
  EXPECT_EQ(round_trip(std::string("hello mpiray")), "hello mpiray");
  EXPECT_EQ(round_trip(std::string()), "");
  const std::string with_nul("a\0b\0c", 5);
  EXPECT_EQ(round_trip(with_nul), with_nul);
  EXPECT_EQ(to_bytes(std::string("abc")).size(), 3u);
}

TEST(Codec, VectorOfStringsRoundTrips) {
  const std::vector<std::string> v{"alpha", "", "gamma with spaces", std::string(1000, 'x')};
  EXPECT_EQ(round_trip(v), v);
  EXPECT_TRUE(round_trip(std::vector<std::string>{}).empty());
}

TEST(Codec, MapRoundTrips) {
  const std::map<std::string, int> m{{"one", 1}, {"two", 2}, {"minus", -3}};
  EXPECT_EQ(round_trip(m), m);
  const std::map<int, std::vector<double>> nested{{1, {1.0, 2.0}}, {5, {}}};
  EXPECT_EQ(round_trip(nested), nested);
}

TEST(Codec, UserStructWithSerializeRoundTrips) {
  const Particle p{"electron", {0.1, 0.2, 0.3}, -1};
  EXPECT_EQ(round_trip(p), p);
  const std::vector<Particle> many{p, Particle{"proton", {}, 1}};
  EXPECT_EQ(round_trip(many), many);
}

TEST(Codec, TupleRoundTrips) {
  const std::tuple<int, std::string, double> t{7, "seven", 7.5};
  EXPECT_EQ(round_trip(t), t);
  const std::tuple<std::vector<int>, std::map<std::string, int>> t2{{1, 2, 3}, {{"k", 4}}};
  EXPECT_EQ(round_trip(t2), t2);
}

TEST(Codec, SizeMismatchOnDecodeThrows) {
  // A double's 8 bytes read as a 4-byte int: the producer and reader disagree on the type.
  EXPECT_THROW(from_bytes<int>(to_bytes(1.0)), std::runtime_error);
  EXPECT_THROW(from_bytes<double>(to_bytes(1)), std::runtime_error);
  EXPECT_THROW(from_bytes<int>(std::string()), std::runtime_error);
  // 7 bytes are not a whole number of 4-byte elements.
  EXPECT_THROW(from_bytes<std::vector<int>>(std::string(7, '\0')), std::runtime_error);
  EXPECT_THROW(from_bytes<std::u16string>(std::string(3, 'a')), std::runtime_error);
  try {
    from_bytes<int>(to_bytes(1.0));
    FAIL() << "expected a size-mismatch error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("8 bytes"), std::string::npos) << e.what();
  }
}

TEST(Codec, TruncatedArchiveOnDecodeThrows) {
  const std::string bytes = to_bytes(std::vector<std::string>{"abc", "defgh"});
  ASSERT_GT(bytes.size(), 4u);
  EXPECT_ANY_THROW(from_bytes<std::vector<std::string>>(bytes.substr(0, bytes.size() - 3)));
}

TEST(Codec, SegmentsAreLengthDelimitedAndReadBackInOrder) {
  Writer w;
  mpiray::detail::encode_segment(w, 5);
  mpiray::detail::encode_segment(w, std::string("xyz"));
  mpiray::detail::encode_segment(w, std::vector<double>{1.0, 2.0});
  Reader r(w.view());
  EXPECT_EQ(Codec<int>::decode(r.get_bytes()), 5);
  EXPECT_EQ(Codec<std::string>::decode(r.get_bytes()), "xyz");
  EXPECT_EQ(Codec<std::vector<double>>::decode(r.get_bytes()), (std::vector<double>{1.0, 2.0}));
  EXPECT_TRUE(r.done());
}

}  // namespace
