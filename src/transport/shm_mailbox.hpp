#pragma once
// Same-node message rings and a doorbell, in memory the node's ranks share (the transport maps
// it with MPI_Win_allocate_shared; this file knows nothing of MPI, so it is unit-tested with
// threads).
//
// Why: on a node, every MPI receive poll runs Open MPI's whole progress engine (about a
// microsecond even when nothing came), and a rank that sleeps notices nothing until its nap
// ends, so idle ranks had to spin, taking cores from the ranks with work. Here a poll is one load
// per peer ring, and a sleeping rank is woken by the sender through a futex in the shared
// memory, so ranks can sleep when idle and still answer within microseconds.
//
// Layout: every local rank owns one inbox: a control block (doorbell) and one single-producer
// single-consumer byte ring per local sender (boost::lockfree::spsc_queue with its storage
// inline, so it has no pointers and works at any mapping address). A sender that finds the ring
// full raises a flag next to it, and the reader rings that sender's doorbell once it read some. A
// message is a 4-byte length and its bytes, pushed only when both fit; a length of kMarker says "my
// next message to you travels by MPI" (too large for the ring), which keeps each sender's messages
// in order.
//
// Thread-safety: push() from one thread per sender at a time (the transport's progress lock);
// pop side likewise; wait()/wake() from any thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/lockfree/spsc_queue.hpp>

namespace mpiray::detail {

class ShmMailbox {
 public:
  static constexpr std::size_t kRingBytes = std::size_t(64) << 10;
  /// Largest message a ring carries (larger ones go by MPI after a marker).
  static constexpr std::size_t kMaxMessage = kRingBytes / 2;
  static constexpr std::uint32_t kMarker = 0xffffffffu;
  /// Inboxes are not used above this many ranks per node (n^2 rings; 256 MiB at 64).
  static constexpr int kMaxLocalRanks = 64;

  /// Bytes of one rank's inbox for `local_size` ranks on the node.
  static std::size_t inbox_bytes(int local_size);
  /// Constructs this rank's inbox in `base` (inbox_bytes() bytes, suitably aligned: 64).
  static void construct(void* base, int local_size);

  /// `inboxes[i]`: local rank i's inbox as mapped here; `me`: this rank's local index.
  ShmMailbox(std::vector<void*> inboxes, int me);

  enum class Push { kDone, kFull, kTooLarge };
  /// Appends one message to `dest`'s ring from this rank and rings its doorbell if it sleeps.
  Push push(int dest, const char* data, std::size_t size);
  /// Appends a marker (4 bytes); false when the ring is full.
  bool push_marker(int dest);

  /// What poll() found at the head of a sender's ring.
  struct Visitor {
    virtual ~Visitor() = default;
    virtual void message(int source, const char* data, std::size_t size) = 0;
    /// A marker: returns true once the MPI message it announces was received (it is consumed),
    /// false to stop reading this sender's ring for now.
    virtual bool marker(int source) = 0;
  };
  /// Reads waiting messages of every sender, at most `max` in all; returns how many.
  int poll(Visitor& v, int max);
  /// True when a message waits in a ring of this rank's inbox that poll() can read now (a
  /// sender stopped at a marker whose MPI message has not come does not count). Any thread.
  bool any_waiting() const;
  /// True when poll() stopped at a marker whose MPI message has not come yet. Any thread.
  bool marker_waiting() const;

  /// Sleeps at most `timeout` unless a message arrives or wake() is called. Returns at once if
  /// `ready()` holds after this rank announced it sleeps (checked with the rings).
  template <class Ready>
  void wait(std::chrono::microseconds timeout, Ready&& ready) {
    // A marker's MPI message rings no doorbell: short naps until it is here (spinning instead
    // would take the core its sender may need to progress the send).
    if (marker_waiting()) timeout = std::min(timeout, std::chrono::microseconds(kMarkerNapUs));
    const std::uint32_t seen = begin_wait();
    if (!ready() && !any_waiting()) sleep(seen, timeout);
    end_wait();
  }
  static constexpr int kMarkerNapUs = 50;
  /// Wakes this rank's sleeper (another thread of this process).
  void wake();
  /// Doorbell rings this rank sent to sleeping peers (statistics).
  std::uint64_t rings_sent() const { return rings_sent_; }

 private:
  using Ring = boost::lockfree::spsc_queue<char, boost::lockfree::capacity<kRingBytes>>;
  struct alignas(64) Control {
    std::atomic<std::uint32_t> seq{0};       // futex word: bumped by every wake-up
    std::atomic<std::uint32_t> sleeping{0};  // threads of the owner in (or entering) sleep()
  };
  /// One sender's slot in an inbox: its ring, and a flag it raises when the ring was full, so
  /// the reader wakes it once it made room (else the sender would retry only when its own nap
  /// ends, up to a millisecond later).
  struct Slot {
    alignas(64) std::atomic<std::uint32_t> sender_waiting{0};
    alignas(64) Ring ring;
  };
  static std::size_t slot_offset(int sender);
  Control& control(int rank) const;
  Slot& slot(int owner, int sender) const;
  Ring& ring(int owner, int sender) const { return slot(owner, sender).ring; }
  void ring_doorbell(int rank);
  std::uint32_t begin_wait();
  void sleep(std::uint32_t seen, std::chrono::microseconds timeout);
  void end_wait();

  std::vector<void*> inboxes_;
  int me_;
  int n_;
  // Per sender: the length read whose body is not complete yet, or kMarker (0: none). Written
  // by poll() only; atomic because sleepers on other threads read it (any_waiting()).
  std::unique_ptr<std::atomic<std::uint32_t>[]> pending_len_;
  int next_first_ = 0;  // poll() starts with this sender
  std::vector<char> scratch_;
  std::uint64_t rings_sent_ = 0;
};

}  // namespace mpiray::detail
