#pragma once
// The only layer that calls MPI. Point-to-point messages are byte batches on a private
// communicator (a dup of MPI_COMM_WORLD, so user MPI code cannot collide with the runtime).
// Not thread-safe by itself: the runtime calls it under its progress lock, which is why
// MPI_THREAD_SERIALIZED suffices.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transport/shm_mailbox.hpp"

namespace mpiray::detail {

struct Layout {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // rank among processes on this node
  int local_size = 1;  // processes on this node
  int nodes = 1;       // distinct nodes in the job
  std::string hostname;
};

/// Open MPI's yield-when-idle back on for the life of this object, where it was on (`before`
/// == 1) until the transport turned it off for its polling. A blocking collective needs it on an
/// oversubscribed node: a rank spinning in one holds a core until the scheduler preempts it,
/// while the rank it waits for gets none. With it off, `mpiray::run` took 150-300 ms to start on
/// 3-4 ranks over 2 cores (about 1 ms with it on). No effect with other MPI libraries.
/// Thread-safety: one at a time, under the progress lock like every transport call.
class MpiYieldWhileBlocked {
 public:
  explicit MpiYieldWhileBlocked(int before);
  ~MpiYieldWhileBlocked();
  MpiYieldWhileBlocked(const MpiYieldWhileBlocked&) = delete;
  MpiYieldWhileBlocked& operator=(const MpiYieldWhileBlocked&) = delete;

 private:
  bool on_;
};

class MpiTransport {
 public:
  using Handler = std::function<void(int source, const char* data, std::size_t size)>;

  /// Initialises MPI (unless the program already did) at MPI_THREAD_SERIALIZED or better;
  /// throws ConfigError if the library cannot provide it.
  MpiTransport(int* argc, char*** argv);
  ~MpiTransport();
  MpiTransport(const MpiTransport&) = delete;
  MpiTransport& operator=(const MpiTransport&) = delete;

  const Layout& layout() const { return layout_; }

  /// Starts a non-blocking send of `bytes` to `dest`. To a rank on this node it goes through
  /// the node's shared-memory rings (ShmMailbox) when they exist: copied into the ring at once,
  /// `bytes` stays the caller's (returns false) for reuse. Otherwise the transport keeps the
  /// buffer until the send completes (returns true, `bytes` is left empty): a message that
  /// does not fit a ring waits here, in order, until there is room.
  bool send(int dest, std::vector<char>& bytes);
  /// Completes finished sends and moves waiting ones into rings; returns true if any did.
  bool test_sends();
  std::size_t pending_sends() const { return sends_.size() + ring_backlog_.load(); }
  /// Receives up to `max` waiting messages, calling `on_message` for each; returns the count.
  int poll(const Handler& on_message, int max = 64);

  // ---- sleeping until a message comes (same-node rings only; thread-safe)
  /// True when same-node messages ring this rank's doorbell (see ShmMailbox); off-node ones do
  /// not, so sleeps stay bounded by their timeouts.
  bool has_doorbell() const { return mailbox_ != nullptr; }
  /// Sleeps at most `timeout`, less if a same-node message arrives or wake_waiter() is called;
  /// returns at once if `ready()` holds once this rank announced that it sleeps.
  template <class Ready>
  void wait_message(std::chrono::microseconds timeout, Ready&& ready) {
    // An MPI send still in flight (a message too large for a ring, or to another node) may need
    // this rank's MPI progress to finish, which no doorbell announces: short naps meanwhile.
    // So may messages queued for a full ring: the reader rings us when it made room, but only
    // if we were asleep by then, so short naps here too.
    if (mpi_sends_.load(std::memory_order_relaxed) > 0 ||
        ring_backlog_.load(std::memory_order_relaxed) > 0)
      timeout = std::min(timeout, std::chrono::microseconds(kSendNapUs));
    mailbox_->wait(timeout, std::forward<Ready>(ready));
  }
  static constexpr int kSendNapUs = 50;
  void wake_waiter() { mailbox_->wake(); }
  /// Doorbell rings sent to sleeping ranks, and messages that went through rings.
  std::uint64_t doorbells_rung() const { return mailbox_ ? mailbox_->rings_sent() : 0; }
  std::uint64_t ring_messages() const { return ring_sent_; }
  std::uint64_t ring_overflows() const { return ring_overflow_; }

  // ---- one-sided reads: every rank exposes objects in one dynamic window (passive target)
  /// False when the MPI library cannot create dynamic windows on this network: callers then
  /// move values with messages instead.
  bool one_sided() const { return win_ != nullptr; }
  /// Exposes [p, p+n) for remote reads; returns the address readers pass to get().
  std::uint64_t attach(const void* p, std::size_t n);
  void detach(const void* p);
  /// Reads n bytes at `addr` of `owner`'s window into dst (lock shared, MPI_Get, unlock).
  void get(void* dst, std::size_t n, int owner, std::uint64_t addr);

  // ---- same-node shared memory: one MPI_Win_allocate_shared segment per rank of a node, which
  // the node's other ranks read with plain memcpy (memory speed; a window Get is slower)
  /// Collective over the job: gives each rank a segment of `bytes` (0: none). Returns false, on
  /// every rank of a node alike, when the node cannot provide shared windows.
  bool open_shared(std::size_t bytes);
  /// This rank's segment (nullptr/0 without one).
  char* shared_base() const { return shm_base_; }
  std::size_t shared_size() const { return shm_size_; }
  /// The segment of `rank` mapped in this process, or nullptr when that rank is on another node
  /// (or has no segment).
  const char* peer_segment(int rank) const;
  std::size_t peer_segment_size(int rank) const;
  /// Memory barrier for the segments (MPI_Win_sync): the writer calls it before telling a reader
  /// where the bytes are, the reader after hearing it and before reading.
  void shared_sync();

  // ---- broadcasts: non-blocking collectives, started in the same order on every rank
  /// Starts broadcasting [p, p+n) from rank 0; returns a handle for bcast_done().
  int start_bcast(void* p, std::size_t n);
  /// True once the broadcast finished on this rank.
  bool bcast_done(int handle);

  std::vector<int> gather_int(int value);  // every rank gets all values
  std::uint64_t allreduce_min(std::uint64_t v);
  std::uint64_t allreduce_max(std::uint64_t v);
  /// Among this node's ranks: the bitwise OR of `words` (each rank passes as many), and the sum
  /// of `v`.
  std::vector<std::uint64_t> node_or(std::vector<std::uint64_t> words);
  std::uint64_t node_sum(std::uint64_t v);
  /// Waits until every message sent by any rank was received (counting quiescence: sums of sent
  /// and received counts agree in two rounds in a row), handing late messages to `on_message`.
  void quiesce(const Handler& on_message);
  [[noreturn]] void abort(int code);

  std::uint64_t messages_sent() const { return sent_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t messages_received() const { return received_; }

 private:
  struct PendingSend;
  struct RingVisitor;
  /// Collective over the node: maps the node's inboxes (MPIRAY_SHM_MAILBOX=0 on any rank: none).
  void open_mailboxes();
  /// Collective over the node: true on every rank iff `mine` is true on every rank.
  bool node_all(bool mine);
  /// Collective over the node: an MPI_Win_allocate_shared window of `bytes` per rank, each
  /// segment on its own pages. Returns the window (nullptr on every rank unless it worked on
  /// all of them); `base` gets this rank's segment.
  void* allocate_node_window(std::size_t bytes, int disp_unit, void** base);
  /// Puts one message into `dest`'s ring: copied (the caller keeps `bytes`), taken (too large
  /// for a ring: its marker went in and `bytes` moved to an MPI send), or no room now.
  enum class Ring { kCopied, kTaken, kNoRoom };
  Ring try_ring(int dest, std::vector<char>& bytes);
  void isend(int dest, int tag, std::vector<char>&& bytes);
  /// Receives from MPI, any source, regular tag.
  int poll_mpi(const Handler& on_message, int max);
  Layout layout_;
  bool finalize_ = false;
  int mpi_yield_before_ = -1;  // Open MPI's yield-when-idle before we turned it off (-1: untouched)
  void* comm_ = nullptr;       // MPI_Comm, kept opaque so this header needs no mpi.h
  void* node_comm_ = nullptr;  // MPI_Comm of this node's ranks
  void* win_ = nullptr;        // MPI_Win (dynamic)
  void* shm_win_ = nullptr;    // MPI_Win (shared segments of this node)
  char* shm_base_ = nullptr;
  std::size_t shm_size_ = 0;
  std::vector<const char*> peer_base_;  // per world rank; nullptr off-node
  std::vector<std::size_t> peer_size_;
  std::map<int, std::vector<void*>> bcasts_;  // per handle: outstanding MPI_Request* chunks
  int next_bcast_ = 0;
  std::deque<PendingSend*> sends_;
  std::atomic<std::size_t> mpi_sends_{0};  // sends_.size(), for sleepers on other threads
  std::vector<char> recv_buf_;
  void* mailbox_win_ = nullptr;                           // MPI_Win of the node's inboxes
  std::unique_ptr<ShmMailbox> mailbox_;                   // nullptr: every message goes by MPI
  std::vector<int> local_of_;                             // world rank -> local index, -1 off-node
  std::vector<int> world_of_;                             // local index -> world rank
  std::vector<std::deque<std::vector<char>>> ring_wait_;  // per world rank: waiting for room
  std::atomic<std::size_t> ring_backlog_{0};  // messages in ring_wait_ (read by sleepers)
  std::uint64_t ring_sent_ = 0;
  std::uint64_t ring_overflow_ = 0;
  std::uint64_t polls_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace mpiray::detail
