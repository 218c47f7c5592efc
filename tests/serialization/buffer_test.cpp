// detail::Writer / detail::Reader: the byte buffers under every record and value; detail::Blob:
// the stored bytes of one object.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mpiray/detail/blob.hpp"
#include "mpiray/detail/buffer.hpp"

namespace {

using mpiray::detail::Reader;
using mpiray::detail::Writer;

TEST(Buffer, WriterAndReaderRoundTripFixedWidthValuesAndBlobs) {
  Writer w;
  w.put<std::uint8_t>(200);
  w.put<std::int32_t>(-123456);
  w.put<std::uint64_t>(0x0123456789abcdefULL);
  w.put_bytes("payload");
  w.put_bytes("");
  w.put<double>(6.5);
  EXPECT_EQ(w.size(), 1u + 4u + 8u + (4u + 7u) + 4u + 8u);

  Reader r(w.view());
  EXPECT_EQ(r.get<std::uint8_t>(), 200);
  EXPECT_EQ(r.get<std::int32_t>(), -123456);
  EXPECT_EQ(r.get<std::uint64_t>(), 0x0123456789abcdefULL);
  EXPECT_EQ(r.get_bytes(), "payload");
  EXPECT_EQ(r.get_bytes(), "");
  EXPECT_EQ(r.get<double>(), 6.5);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Buffer, LengthSlotIsPatchedWithThePayloadSize) {
  Writer w;
  w.put<std::uint8_t>(1);
  const std::size_t at = w.begin_len();
  w.put<std::uint64_t>(9);
  w.put_bytes("abc");
  w.end_len(at);
  Reader r(w.view());
  EXPECT_EQ(r.get<std::uint8_t>(), 1);
  EXPECT_EQ(r.get<std::uint32_t>(), 8u + 4u + 3u);
  EXPECT_EQ(r.remaining(), 15u);
}

TEST(Buffer, ReaderThrowsOnTruncatedFixedWidthValue) {
  const std::string three(3, '\x01');
  Reader r(three);
  EXPECT_THROW(r.get<std::uint32_t>(), std::runtime_error);
}

TEST(Buffer, ReaderThrowsWhenABlobIsLongerThanTheInput) {
  Writer w;
  w.put<std::uint32_t>(100);  // claims 100 bytes ...
  w.append("short", 5);       // ... but only 5 follow
  Reader r(w.view());
  try {
    r.get_bytes();
    FAIL() << "expected a truncation error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(Buffer, ReaderThrowsAfterTheEndAndOnEmptyInput) {
  Reader empty(nullptr, 0);
  EXPECT_TRUE(empty.done());
  EXPECT_THROW(empty.get<std::uint8_t>(), std::runtime_error);

  Writer w;
  w.put<std::uint16_t>(7);
  Reader r(w.view());
  EXPECT_EQ(r.get<std::uint16_t>(), 7);
  EXPECT_THROW(r.get<std::uint8_t>(), std::runtime_error);
}

TEST(Buffer, TakeMovesTheBytesOut) {
  Writer w;
  w.put<std::uint32_t>(5);
  auto bytes = w.take();
  EXPECT_EQ(bytes.size(), 4u);
  w.clear();
  EXPECT_TRUE(w.empty());
}

// A sent message's buffer written into again (the runtime's outboxes): no new allocation while
// the bytes fit, the old bytes never show, and writing past the adopted room still works.
TEST(Buffer, AdoptedBufferIsReusedFromItsStart) {
  Writer first;
  for (std::uint32_t i = 0; i < 64; ++i) first.put(i);  // 256 bytes
  std::vector<char> sent = first.take();
  ASSERT_EQ(sent.size(), 256u);
  const char* storage = sent.data();
  Writer w;
  w.adopt(std::move(sent));
  EXPECT_TRUE(w.empty());
  w.put_bytes("again");
  EXPECT_EQ(w.data(), storage) << "the adopted storage was not reused";
  EXPECT_EQ(w.size(), 4u + 5u);
  Reader r(w.view());
  EXPECT_EQ(r.get_bytes(), "again");
  EXPECT_TRUE(r.done());
  const std::string big(1000, 'z');  // beyond the adopted room: grows as usual
  w.put_bytes(big);
  Reader r2(w.view());
  EXPECT_EQ(r2.get_bytes(), "again");
  EXPECT_EQ(r2.get_bytes(), big);
  EXPECT_TRUE(r2.done());
}

}  // namespace

// ---- Blob: stored bytes that may live in a typed value, a heap string or a raw buffer

// The Writer makes room ahead of its logical size; size(), view(), take() and bytes() must show
// exactly the bytes written, and code appending through bytes() must be continued correctly.
TEST(Buffer, LogicalSizeIsExactThroughGrowthBytesAndTake) {
  Writer w;
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    w.put<std::uint32_t>(static_cast<std::uint32_t>(i));
    expect.append(reinterpret_cast<const char*>(&i), 4);
    ASSERT_EQ(w.size(), expect.size());
  }
  EXPECT_EQ(w.view(), expect);
  std::vector<char>& v = w.bytes();  // exactly the bytes written
  ASSERT_EQ(v.size(), expect.size());
  v.push_back('x');  // appended directly, as a Boost archive does through a device
  expect.push_back('x');
  EXPECT_EQ(w.size(), expect.size());
  w.put<char>('y');
  expect.push_back('y');
  EXPECT_EQ(w.view(), expect);
  const std::vector<char> taken = w.take();
  EXPECT_EQ(std::string(taken.begin(), taken.end()), expect);
  EXPECT_TRUE(w.empty());
  w.put_bytes("after");
  EXPECT_EQ(w.size(), 4u + 5u);
  Reader r(w.view());
  EXPECT_EQ(r.get_bytes(), "after");
  EXPECT_TRUE(r.done());
  w.clear();
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.view(), "");
}

TEST(Blob, OwnsAMovedStringWithoutCopyingIt) {
  std::string s(1000, 'z');
  const char* storage = s.data();
  mpiray::detail::Blob b(std::move(s));
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.data(), storage);
  EXPECT_EQ(b, std::string(1000, 'z'));
}

TEST(Blob, ExternalBytesStayAliveAsLongAsAnyCopy) {
  std::weak_ptr<const std::vector<int>> watch;
  mpiray::detail::Blob copy;
  {
    auto v = std::make_shared<const std::vector<int>>(std::vector<int>{1, 2, 3});
    watch = v;
    auto b = mpiray::detail::Blob::external(v, reinterpret_cast<const char*>(v->data()),
                                            v->size() * sizeof(int));
    copy = b;
  }
  ASSERT_FALSE(watch.expired()) << "the blob did not keep its value alive";
  EXPECT_EQ(copy.size(), 3 * sizeof(int));
  int first = 0;
  std::memcpy(&first, copy.data(), sizeof(int));
  EXPECT_EQ(first, 1);
  copy.reset();
  EXPECT_TRUE(watch.expired()) << "the last blob let go but the value lives on";
}

TEST(Blob, UninitializedGivesAWritableBufferOfTheExactSize) {
  char* dst = nullptr;
  auto b = mpiray::detail::Blob::uninitialized(5, &dst);
  ASSERT_NE(dst, nullptr);
  std::memcpy(dst, "hello", 5);
  EXPECT_EQ(b, "hello");
  EXPECT_EQ(b.view().size(), 5u);
  auto empty = mpiray::detail::Blob::uninitialized(0, &dst);
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(mpiray::detail::Blob().view(), "");
}

TEST(Blob, SmallValuesLiveInsideTheBlobAndSurviveCopiesAndMoves) {
  mpiray::detail::Blob a(std::string("tiny"));
  EXPECT_EQ(a, "tiny");
  mpiray::detail::Blob b = a;             // copy
  mpiray::detail::Blob c = std::move(a);  // move
  EXPECT_EQ(b, "tiny");
  EXPECT_EQ(c, "tiny");
  EXPECT_NE(b.data(), c.data()) << "inline bytes must be copied, not shared";
  const std::string big(mpiray::detail::Blob::kInline + 1, 'q');
  mpiray::detail::Blob d(big);
  mpiray::detail::Blob e = d;
  EXPECT_EQ(d.data(), e.data()) << "large bytes are shared between copies";
  EXPECT_EQ(e, big);
  e.assign("short again");
  EXPECT_EQ(e, "short again");
  EXPECT_EQ(d, big);
}
