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

std::size_t ShmMailbox::slot_offset(int sender) {
  return round_up(sizeof(Control), 64) +
         static_cast<std::size_t>(sender) * round_up(sizeof(Slot), 64);
}

std::size_t ShmMailbox::inbox_bytes(int local_size) {
  return slot_offset(local_size);
}

void ShmMailbox::construct(void* base, int local_size) {
  new (base) Control();
  for (int s = 0; s < local_size; ++s) new (static_cast<char*>(base) + slot_offset(s)) Slot();
}

ShmMailbox::ShmMailbox(std::vector<void*> inboxes, int me)
    : inboxes_(std::move(inboxes)),
      me_(me),
      n_(static_cast<int>(inboxes_.size())),
      pending_len_(new std::atomic<std::uint32_t>[inboxes_.size()]),
      scratch_(kMaxMessage) {
  for (int s = 0; s < n_; ++s) pending_len_[s].store(0, std::memory_order_relaxed);
}

ShmMailbox::Control& ShmMailbox::control(int rank) const {
  return *static_cast<Control*>(inboxes_[rank]);
}

ShmMailbox::Slot& ShmMailbox::slot(int owner, int sender) const {
  return *reinterpret_cast<Slot*>(static_cast<char*>(inboxes_[owner]) + slot_offset(sender));
}

ShmMailbox::Push ShmMailbox::push(int dest, const char* data, std::size_t size) {
  if (size > kMaxMessage) return Push::kTooLarge;
  Slot& sl = slot(dest, me_);
  Ring& r = sl.ring;
  if (r.write_available() < sizeof(std::uint32_t) + size) {
    // Raise the flag, then look once more: the reader may have made room in between.
    sl.sender_waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (r.write_available() < sizeof(std::uint32_t) + size) return Push::kFull;
  }
  const auto len = static_cast<std::uint32_t>(size);
  r.push(reinterpret_cast<const char*>(&len), sizeof(len));
  r.push(data, size);
  ring_doorbell(dest);
  return Push::kDone;
}

bool ShmMailbox::push_marker(int dest) {
  Slot& sl = slot(dest, me_);
  Ring& r = sl.ring;
  if (r.write_available() < sizeof(std::uint32_t)) {
    sl.sender_waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (r.write_available() < sizeof(std::uint32_t)) return false;
  }
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
  // Start after the sender read first last time: a busy sender cannot starve the others when a
  // poll stops at `max`.
  const int first = next_first_;
  next_first_ = (next_first_ + 1) % n_;
  for (int k = 0; k < n_ && n < max; ++k) {
    const int s = (first + k) % n_;
    if (s == me_) continue;
    Slot& sl = slot(me_, s);
    Ring& r = sl.ring;
    bool popped = false;
    while (n < max) {
      std::atomic<std::uint32_t>& pending = pending_len_[s];
      std::uint32_t len = pending.load(std::memory_order_relaxed);
      if (len == 0) {
        if (r.read_available() < sizeof(std::uint32_t)) break;
        std::uint32_t got = 0;
        r.pop(reinterpret_cast<char*>(&got), sizeof(got));
        popped = true;
        // A zero-length message has nothing more to read; 0 also means "no length pending".
        if (got == 0) {
          ++n;
          v.message(s, scratch_.data(), 0);
          continue;
        }
        len = got;
        pending.store(len, std::memory_order_relaxed);
      }
      if (len == kMarker) {
        if (!v.marker(s)) break;  // its MPI message is not here yet: this sender waits
        pending.store(0, std::memory_order_relaxed);
        ++n;
        continue;
      }
      if (r.read_available() < len) break;  // the sender is between its two pushes
      r.pop(scratch_.data(), len);
      popped = true;
      pending.store(0, std::memory_order_relaxed);
      ++n;
      v.message(s, scratch_.data(), len);
    }
    // We made room: wake the sender if it waits for it (it raised the flag before its last
    // look at the ring, so it either saw this room or gets the wake-up).
    if (popped) std::atomic_thread_fence(std::memory_order_seq_cst);
    if (popped && sl.sender_waiting.load(std::memory_order_relaxed) != 0) {
      sl.sender_waiting.store(0, std::memory_order_relaxed);
      ring_doorbell(s);
    }
  }
  return n;
}

bool ShmMailbox::any_waiting() const {
  for (int s = 0; s < n_; ++s) {
    if (s == me_) continue;
    const std::uint32_t pending = pending_len_[s].load(std::memory_order_relaxed);
    if (pending == kMarker) continue;  // nothing of this sender is readable before its MPI message
    if (pending != 0 || ring(me_, s).read_available() > 0) return true;
  }
  return false;
}

bool ShmMailbox::marker_waiting() const {
  for (int s = 0; s < n_; ++s)
    if (s != me_ && pending_len_[s].load(std::memory_order_relaxed) == kMarker) return true;
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
