#pragma once
// Byte buffers for mpiray's compact wire format.
//
// Wire format: fixed-width integers are copied in host byte order (mpiray assumes a homogeneous
// cluster, as MPI_BYTE transfers do); strings and blobs are a u32 length followed by the bytes.
// No per-message archive header: one Boost archive per message costs 5-10x the transport
// (see shared/notes/performance-facts.md), so the runtime's own records never use one.

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
    const std::size_t old = bytes_.size();
    bytes_.resize(old + n);
    if (n != 0) std::memcpy(bytes_.data() + old, p, n);
  }
  void put_bytes(std::string_view s) {
    put<std::uint32_t>(checked_len(s.size()));
    append(s.data(), s.size());
  }
  /// Reserves a u32 length slot; returns its offset for patch_len().
  std::size_t begin_len() {
    const std::size_t at = bytes_.size();
    put<std::uint32_t>(0);
    return at;
  }
  void end_len(std::size_t at) {
    const std::uint32_t n = checked_len(bytes_.size() - at - sizeof(std::uint32_t));
    std::memcpy(bytes_.data() + at, &n, sizeof(n));
  }

  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  const char* data() const { return bytes_.data(); }
  char* data() { return bytes_.data(); }
  void clear() { bytes_.clear(); }
  std::vector<char>& bytes() { return bytes_; }
  std::vector<char> take() { return std::move(bytes_); }
  std::string_view view() const { return {bytes_.data(), bytes_.size()}; }

 private:
  static std::uint32_t checked_len(std::size_t n) {
    if (n > 0xFFFFFFFFull)
      throw std::length_error("mpiray: a single value larger than 4 GiB cannot be serialized; "
                              "split it into several objects");
    return static_cast<std::uint32_t>(n);
  }
  std::vector<char> bytes_;
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
    if (static_cast<std::size_t>(end_ - p_) < n)
      throw std::runtime_error("mpiray: truncated message or value (wanted " + std::to_string(n) +
                               " bytes, " + std::to_string(end_ - p_) +
                               " left); sender and receiver disagree on the type");
    const char* at = p_;
    p_ += n;
    return at;
  }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace mpiray::detail
