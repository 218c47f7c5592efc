#include "object_store/shm_arena.hpp"

#include <boost/interprocess/managed_external_buffer.hpp>
#include <new>

namespace mpiray::detail {

namespace bip = boost::interprocess;

struct ShmArena::Impl {
  Impl(char* base, std::size_t size) : seg(bip::create_only, base, size) {}
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
