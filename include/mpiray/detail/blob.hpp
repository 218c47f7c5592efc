#pragma once
// Blob: the immutable bytes of one stored value, wherever they physically live.
//
// A value's encoding is usually a heap string, but copying it there is not always needed: the
// encoding of a std::vector of plain elements *is* the vector's storage, a fetch or broadcast can
// land directly in the decoded value, and a restored spill needs no zero-filled string first.
// A Blob is therefore a (pointer, size) pair plus a shared keep-alive handle for the memory.
// Copies share the memory; nothing ever writes through a published Blob.

#include <cstddef>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace mpiray::detail {

/// Thread-safety: a Blob is immutable once published; copies may be used from any thread.
class Blob {
 public:
  /// Values up to this size live inside the Blob itself (no heap allocation): most task results
  /// are a few bytes, and an allocation per result showed up in the task-throughput profile.
  static constexpr std::size_t kInline = 40;

  Blob() = default;
  /// Owns `s` (moved, not copied; small ones are copied inline).
  Blob(std::string s) {  // NOLINT(google-explicit-constructor): strings are the common source
    if (s.size() <= kInline) {
      set_inline(s.data(), s.size());
      return;
    }
    auto owned = std::make_shared<std::string>(std::move(s));
    p_ = owned->data();
    n_ = owned->size();
    keep_ = std::move(owned);
  }
  Blob& operator=(std::string s) { return *this = Blob(std::move(s)); }
  Blob(const Blob& o) { copy_from(o); }
  Blob(Blob&& o) noexcept { move_from(std::move(o)); }
  Blob& operator=(const Blob& o) {
    if (this != &o) copy_from(o);
    return *this;
  }
  Blob& operator=(Blob&& o) noexcept {
    if (this != &o) move_from(std::move(o));
    return *this;
  }

  /// Bytes kept alive by `keep` (e.g. the typed value whose storage they are).
  static Blob external(std::shared_ptr<const void> keep, const char* p, std::size_t n) {
    Blob b;
    b.keep_ = std::move(keep);
    b.p_ = p;
    b.n_ = n;
    return b;
  }
  /// A fresh buffer of `n` bytes that are *not* initialised (no zero fill: the caller writes all
  /// of them, e.g. with MPI_Get, before publishing). Returns the writable pointer in `out`.
  static Blob uninitialized(std::size_t n, char** out) {
    std::shared_ptr<char> mem(new char[n == 0 ? 1 : n], std::default_delete<char[]>());
    *out = mem.get();
    Blob b;
    b.p_ = mem.get();
    b.n_ = n;
    b.keep_ = std::move(mem);
    return b;
  }
  /// A copy of `s` (inline when small).
  void assign(std::string_view s) {
    if (s.size() <= kInline) {
      keep_.reset();
      set_inline(s.data(), s.size());
    } else {
      *this = Blob(std::string(s));
    }
  }

  const char* data() const noexcept { return p_ ? p_ : ""; }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  std::string_view view() const noexcept { return {data(), n_}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: decoders take views
  /// Drops this handle on the memory (freed when the last holder lets go).
  void reset() noexcept { *this = Blob(); }

  friend bool operator==(const Blob& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator!=(const Blob& a, std::string_view b) noexcept { return a.view() != b; }
  friend std::ostream& operator<<(std::ostream& os, const Blob& b) { return os << b.view(); }

 private:
  bool is_inline() const noexcept { return p_ == small_; }
  void set_inline(const char* p, std::size_t n) noexcept {
    if (n != 0) std::memcpy(small_, p, n);
    p_ = small_;
    n_ = n;
  }
  void copy_from(const Blob& o) {
    keep_ = o.keep_;
    if (o.is_inline()) {
      set_inline(o.small_, o.n_);
    } else {
      p_ = o.p_;
      n_ = o.n_;
    }
  }
  void move_from(Blob&& o) noexcept {
    keep_ = std::move(o.keep_);
    if (o.is_inline()) {
      set_inline(o.small_, o.n_);
    } else {
      p_ = o.p_;
      n_ = o.n_;
    }
    o.p_ = nullptr;
    o.n_ = 0;
  }

  std::shared_ptr<const void> keep_;
  const char* p_ = nullptr;
  std::size_t n_ = 0;
  char small_[kInline];
};

}  // namespace mpiray::detail
