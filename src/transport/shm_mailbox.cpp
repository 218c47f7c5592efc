#include "transport/shm_mailbox.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <ctime>
#include <new>

namespace mpiray::detail {

namespace {

constexpr std::size_t round_up(std::size_t n, std::size_t a) {
  return (n + a - 1) / a * a;
}

// Not FUTEX_PRIVATE: the word lives in memory shared by processes.
long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val, const timespec* ts) {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, ts, nullptr, 0);
}

}  // namespace

std::size_t ShmMailbox::ring_offset(int sender) {
  return round_up(sizeof(Control), 64) +
         static_cast<std::size_t>(sender) * round_up(sizeof(Ring), 64);
}

std::size_t ShmMailbox::inbox_bytes(int local_size) {
  return ring_offset(local_size);
}

void ShmMailbox::construct(void* base, int local_size) {
  new (base) Control();
  for (int s = 0; s < local_size; ++s) new (static_cast<char*>(base) + ring_offset(s)) Ring();
}

ShmMailbox::ShmMailbox(std::vector<void*> inboxes, int me)
    : inboxes_(std::move(inboxes)),
      me_(me),
      n_(static_cast<int>(inboxes_.size())),
      pending_len_(inboxes_.size(), 0),
      scratch_(kMaxMessage) {}

ShmMailbox::Control& ShmMailbox::control(int rank) const {
  return *static_cast<Control*>(inboxes_[rank]);
}

ShmMailbox::Ring& ShmMailbox::ring(int owner, int sender) const {
  return *reinterpret_cast<Ring*>(static_cast<char*>(inboxes_[owner]) + ring_offset(sender));
}

ShmMailbox::Push ShmMailbox::push(int dest, const char* data, std::size_t size) {
  if (size > kMaxMessage) return Push::kTooLarge;
  Ring& r = ring(dest, me_);
  if (r.write_available() < sizeof(std::uint32_t) + size) return Push::kFull;
  const auto len = static_cast<std::uint32_t>(size);
  r.push(reinterpret_cast<const char*>(&len), sizeof(len));
  r.push(data, size);
  ring_doorbell(dest);
  return Push::kDone;
}

bool ShmMailbox::push_marker(int dest) {
  Ring& r = ring(dest, me_);
  if (r.write_available() < sizeof(std::uint32_t)) return false;
  const std::uint32_t m = kMarker;
  r.push(reinterpret_cast<const char*>(&m), sizeof(m));
  ring_doorbell(dest);
  return true;
}

void ShmMailbox::ring_doorbell(int rank) {
  // Pairs with the fence in begin_wait(): either the sleeper sees our bytes when it looks at
  // its rings once more, or we see its flag and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  Control& c = control(rank);
  if (c.sleeping.load(std::memory_order_relaxed) == 0) return;
  c.seq.fetch_add(1, std::memory_order_release);
  futex(&c.seq, FUTEX_WAKE, INT_MAX, nullptr);
  ++rings_sent_;
}

int ShmMailbox::poll(Visitor& v, int max) {
  int n = 0;
  for (int s = 0; s < n_ && n < max; ++s) {
    if (s == me_) continue;
    Ring& r = ring(me_, s);
    while (n < max) {
      std::uint32_t& len = pending_len_[s];
      if (len == 0) {
        if (r.read_available() < sizeof(std::uint32_t)) break;
        std::uint32_t got = 0;
        r.pop(reinterpret_cast<char*>(&got), sizeof(got));
        // A zero-length message has nothing more to read; 0 also means "no length pending".
        if (got == 0) {
          ++n;
          v.message(s, scratch_.data(), 0);
          continue;
        }
        len = got;
      }
      if (len == kMarker) {
        if (!v.marker(s)) break;  // its MPI message is not here yet: this sender waits
        len = 0;
        ++n;
        continue;
      }
      if (r.read_available() < len) break;  // the sender is between its two pushes
      r.pop(scratch_.data(), len);
      const std::size_t size = len;
      len = 0;
      ++n;
      v.message(s, scratch_.data(), size);
    }
  }
  return n;
}

bool ShmMailbox::any_waiting() const {
  for (int s = 0; s < n_; ++s) {
    if (s == me_) continue;
    if (pending_len_[s] != 0 || ring(me_, s).read_available() > 0) return true;
  }
  return false;
}

std::uint32_t ShmMailbox::begin_wait() {
  Control& c = control(me_);
  const std::uint32_t seen = c.seq.load(std::memory_order_acquire);
  c.sleeping.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return seen;
}

void ShmMailbox::sleep(std::uint32_t seen, std::chrono::microseconds timeout) {
  const auto us = timeout.count();
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  futex(&control(me_).seq, FUTEX_WAIT, seen, &ts);  // returns early on a wake or a changed seq
}

void ShmMailbox::end_wait() {
  control(me_).sleeping.fetch_sub(1, std::memory_order_relaxed);
}

void ShmMailbox::wake() {
  Control& c = control(me_);
  c.seq.fetch_add(1, std::memory_order_release);
  futex(&c.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

}  // namespace mpiray::detail
