#pragma once
// ShmArena: the allocator of this rank's shared-memory segment (MPI_Win_allocate_shared, opened
// by the transport). Values placed here are read by the node's other ranks with one plain memcpy
// from their mapping of the segment, instead of a one-sided MPI_Get.
//
// Only the owning rank allocates and frees in its segment (peers only read), so the allocator's
// book-keeping (Boost.Interprocess best-fit, kept inside the segment) needs no cross-process
// locking; a mutex serialises this rank's threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "mpiray/detail/blob.hpp"

namespace mpiray::detail {

class ShmArena {
 public:
  /// Formats [base, base+size) as an empty heap.
  ShmArena(char* base, std::size_t size);
  ~ShmArena();
  ShmArena(const ShmArena&) = delete;
  ShmArena& operator=(const ShmArena&) = delete;

  /// `n` bytes in the segment, returned to it when the Blob's last copy goes (writable through
  /// `dst` until published). An empty Blob and dst == nullptr when the segment is full.
  static Blob allocate(const std::shared_ptr<ShmArena>& self, std::size_t n, char** dst);
  bool contains(const char* p) const { return p >= base_ && p < base_ + size_; }
  std::uint64_t offset(const char* p) const { return static_cast<std::uint64_t>(p - base_); }
  std::size_t free_bytes() const;
  /// The segment is about to be unmapped: later frees are ignored.
  void close();

 private:
  void release(void* p);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  char* base_;
  std::size_t size_;
  mutable std::mutex mu_;
  bool closed_ = false;
};

}  // namespace mpiray::detail
