#pragma once
// Byte buffers for mpiray's compact wire format.
//
// Wire format: fixed-width integers are copied in host byte order (mpiray assumes a homogeneous
// cluster, as MPI_BYTE transfers do); strings and blobs are a u32 length followed by the bytes.
// No per-message archive header: one Boost archive per message costs 5-10x the transport
// (see shared/notes/performance-facts.md), so the runtime's own records never use one.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mpiray::detail {

/// Growable byte buffer that records are appended to.
/// Thread-safety: none; one thread writes a Writer at a time.
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t reserve) { bytes_.reserve(reserve); }

  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>, "put() takes trivially copyable values");
    append(&v, sizeof(T));
  }
  void append(const void* p, std::size_t n) {
    sync();
    // The vector's size is the room made so far, the logical size is size_: a resize per field
    // zero-filled it and called out of line every time (8% of rank 0's scheduling work).
    if (bytes_.size() - size_ < n) grow(size_ + n);
    if (n != 0) std::memcpy(bytes_.data() + size_, p, n);
    size_ += n;
  }
  void put_bytes(std::string_view s) {
    put<std::uint32_t>(checked_len(s.size()));
    append(s.data(), s.size());
  }
  /// Reserves a u32 length slot; returns its offset for patch_len().
  std::size_t begin_len() {
    sync();
    const std::size_t at = size_;
    put<std::uint32_t>(0);
    return at;
  }
  void end_len(std::size_t at) {
    sync();
    const std::uint32_t n = checked_len(size_ - at - sizeof(std::uint32_t));
    std::memcpy(bytes_.data() + at, &n, sizeof(n));
  }

  std::size_t size() const { return external_ ? bytes_.size() : size_; }
  bool empty() const { return size() == 0; }
  const char* data() const { return bytes_.data(); }
  char* data() { return bytes_.data(); }
  void clear() {
    size_ = 0;
    external_ = false;
  }
  /// The underlying vector, holding exactly the bytes written; code may append to it directly.
  std::vector<char>& bytes() {
    sync();
    bytes_.resize(size_);
    external_ = true;  // its size is the truth until the next Writer call
    return bytes_;
  }
  std::vector<char> take() {
    sync();
    bytes_.resize(size_);
    size_ = 0;
    std::vector<char> out = std::move(bytes_);
    bytes_.clear();
    return out;
  }
  std::string_view view() const { return {bytes_.data(), size()}; }
  /// Writes into `buf` from now on, from its start: its size is the room (its bytes are
  /// overwritten), so a sent message's buffer is reused with no allocation and no zero-fill.
  void adopt(std::vector<char>&& buf) {
    bytes_ = std::move(buf);
    size_ = 0;
    external_ = false;
  }

 private:
  static std::uint32_t checked_len(std::size_t n) {
    if (n > 0xFFFFFFFFull)
      throw std::length_error(
          "mpiray: a single value larger than 4 GiB cannot be serialized; "
          "split it into several objects");
    return static_cast<std::uint32_t>(n);
  }
  void sync() {
    if (external_) {
      size_ = bytes_.size();
      external_ = false;
    }
  }
  void grow(std::size_t need) {
    // Room made ahead is zero-filled memory: doubling, but never more than 1 MiB ahead (a large
    // value must not touch twice its size in pages).
    const std::size_t have = bytes_.size();
    std::size_t room = have + std::min<std::size_t>(have < 64 ? 64 : have, std::size_t{1} << 20);
    if (room < need) room = need;
    bytes_.resize(room);
  }
  std::vector<char> bytes_;
  std::size_t size_ = 0;   // bytes written (bytes_.size() is the room made)
  bool external_ = false;  // bytes() was handed out: bytes_.size() is the logical size
};

/// Cursor over received bytes. Throws std::runtime_error on truncated input instead of reading
/// past the end, so a corrupt or mismatched message is an error, not undefined behaviour.
/// Thread-safety: none.
class Reader {
 public:
  Reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  explicit Reader(std::string_view s) : Reader(s.data(), s.size()) {}

  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>, "get() returns trivially copyable values");
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  std::string_view get_bytes() {
    const auto n = get<std::uint32_t>();
    return {take(n), n};
  }
  const char* take(std::size_t n) {
    // The check inline, the error out of line: every field of every record passes here.
    if (static_cast<std::size_t>(end_ - p_) < n) truncated(n);
    const char* at = p_;
    p_ += n;
    return at;
  }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

 private:
  [[noreturn]] __attribute__((noinline, cold)) void truncated(std::size_t n) const {
    throw std::runtime_error("mpiray: truncated message or value (wanted " + std::to_string(n) +
                             " bytes, " + std::to_string(end_ - p_) +
                             " left); sender and receiver disagree on the type");
  }
  const char* p_;
  const char* end_;
};

}  // namespace mpiray::detail
