#include "object_store/shm_arena.hpp"

#include <boost/interprocess/managed_external_buffer.hpp>
#include <cstdint>
#include <new>

namespace mpiray::detail {

namespace bip = boost::interprocess;

struct ShmArena::Impl {
  // The allocator needs its buffer aligned to its own alignment (Boost asserts it). MPI gives
  // page-aligned segments in the builds measured, but not under AddressSanitizer (every rank
  // aborted there), so the heap starts at the first 64-byte boundary. Offsets stay relative to
  // the segment's start, as peers see it.
  static constexpr std::size_t kAlign = 64;
  static char* aligned(char* base) {
    const auto a = reinterpret_cast<std::uintptr_t>(base);
    return base + ((kAlign - a % kAlign) % kAlign);
  }
  Impl(char* base, std::size_t size)
      : seg(bip::create_only, aligned(base),
            size - static_cast<std::size_t>(aligned(base) - base)) {}
  bip::managed_external_buffer seg;
};

ShmArena::ShmArena(char* base, std::size_t size)
    : impl_(std::make_unique<Impl>(base, size)), base_(base), size_(size) {}

ShmArena::~ShmArena() {
  // Unmapped already (close() was called): destroying the book-keeping would touch it.
  if (closed_) (void)impl_.release();
}

Blob ShmArena::allocate(const std::shared_ptr<ShmArena>& self, std::size_t n, char** dst) {
  *dst = nullptr;
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lk(self->mu_);
    if (self->closed_) return {};
    p = self->impl_->seg.allocate(n == 0 ? 1 : n, std::nothrow);
  }
  if (!p) return {};
  *dst = static_cast<char*>(p);
  // The keep-alive handle returns the block to the segment; it also keeps the arena object
  // alive, so a value outliving the runtime frees safely (a no-op after close()).
  std::shared_ptr<void> keep(p, [self](void* q) { self->release(q); });
  return Blob::external(std::move(keep), static_cast<const char*>(p), n);
}

void ShmArena::release(void* p) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!closed_) impl_->seg.deallocate(p);
}

std::size_t ShmArena::free_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return closed_ ? 0 : impl_->seg.get_free_memory();
}

void ShmArena::close() {
  std::lock_guard<std::mutex> lk(mu_);
  closed_ = true;
}

}  // namespace mpiray::detail
