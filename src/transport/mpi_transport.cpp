#include "transport/mpi_transport.hpp"

#include <dlfcn.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <string>
#include <thread>

#include "mpiray/errors.hpp"
#include "transport/mpi_check.hpp"

namespace mpiray::detail {
namespace {

constexpr int kTag = 7001;
// A same-node message too large for its ring: announced by a marker in the ring, received only
// when the reader meets that marker, so each sender's messages keep their order.
constexpr int kTagOverflow = 7002;

// Open MPI makes every empty progress call (each MPI_Improbe that finds nothing) a sched_yield
// system call when a node is oversubscribed. mpiray's progress engine already backs off on its
// own (spin, yield, sleep), so that extra syscall only adds latency: it halved the synchronous
// task rate on 3 ranks over 2 cores. The switch is Open MPI's own exported setter; other MPI
// libraries lack the symbol and are left alone. MPIRAY_MPI_YIELD=1 keeps MPI's behaviour.
struct OpalYield {
  using Setter = void (*)(bool);
  Setter set = nullptr;
  const bool* current = nullptr;
};
const OpalYield& opal_yield() {
  static const OpalYield y = [] {
    OpalYield o;
    o.set = reinterpret_cast<OpalYield::Setter>(
        dlsym(RTLD_DEFAULT, "opal_progress_set_yield_when_idle"));
    o.current = static_cast<const bool*>(dlsym(RTLD_DEFAULT, "opal_progress_yield_when_idle"));
    if (!o.set || !o.current) o.set = nullptr;
    return o;
  }();
  return y;
}

/// Turns MPI's yield-when-idle off; returns the previous value for restore_mpi_yield (-1: none).
int disable_mpi_yield() {
  const char* keep = std::getenv("MPIRAY_MPI_YIELD");
  if (keep && std::string(keep) == "1") return -1;
  const OpalYield& y = opal_yield();
  if (!y.set) return -1;
  const int before = *y.current ? 1 : 0;
  y.set(false);
  return before;
}

void restore_mpi_yield(int before) {
  if (before >= 0 && opal_yield().set) opal_yield().set(before == 1);
}

}  // namespace

MpiYieldWhileBlocked::MpiYieldWhileBlocked(int before) : on_(before == 1 && opal_yield().set) {
  if (on_) opal_yield().set(true);
}

MpiYieldWhileBlocked::~MpiYieldWhileBlocked() {
  if (on_) opal_yield().set(false);
}

struct MpiTransport::PendingSend {
  MPI_Request req = MPI_REQUEST_NULL;
  std::vector<char> bytes;
};

MpiTransport::MpiTransport(int* argc, char*** argv) {
  // mpiray::run reports a ConfigError by its exit code: the message must be on stderr already.
  auto config_error = [](const std::string& msg) {
    std::cerr << msg << std::endl;
    return ConfigError(msg);
  };
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized)
    throw config_error(
        "mpiray: mpiray::run was called after MPI was finalized (an earlier mpiray::run started "
        "MPI, so it also ended it, and MPI cannot start twice in one process). To call "
        "mpiray::run several times, call MPI_Init_thread (MPI_THREAD_SERIALIZED or higher) "
        "before the first and MPI_Finalize after the last");
  int initialized = 0;
  MPI_Initialized(&initialized);
  int provided = 0;
  if (!initialized) {
    check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    finalize_ = true;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_SERIALIZED) {
    if (finalize_) MPI_Finalize();
    throw config_error(
        "mpiray: the MPI library provides thread level " + std::to_string(provided) +
        " but mpiray needs MPI_THREAD_SERIALIZED; use an MPI built with thread support (Open MPI "
        "from Debian has it) or call MPI_Init_thread with MPI_THREAD_SERIALIZED before "
        "mpiray::run");
  }
  comm_ = new MPI_Comm;
  check(MPI_Comm_dup(MPI_COMM_WORLD, &as_comm(comm_)), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(as_comm(comm_), MPI_ERRORS_RETURN);
  MPI_Comm_rank(as_comm(comm_), &layout_.rank);
  MPI_Comm_size(as_comm(comm_), &layout_.size);
  node_comm_ = new MPI_Comm;  // this node's ranks: the layout, later the shared segments
  check(MPI_Comm_split_type(as_comm(comm_), MPI_COMM_TYPE_SHARED, layout_.rank, MPI_INFO_NULL,
                            &as_comm(node_comm_)),
        "MPI_Comm_split_type");
  MPI_Comm_rank(as_comm(node_comm_), &layout_.local_rank);
  MPI_Comm_size(as_comm(node_comm_), &layout_.local_size);
  int leader = layout_.local_rank == 0 ? 1 : 0;
  MPI_Allreduce(&leader, &layout_.nodes, 1, MPI_INT, MPI_SUM, as_comm(comm_));
  if (layout_.size > 1) {  // one process reads nothing remotely (and singleton MPI has no osc)
    // Some networks have no one-sided component that supports dynamic windows (Open MPI's
    // osc/rdma over plain TCP fails here). Every rank then agrees to move values with messages.
    auto* win = new MPI_Win;
    const int rc = MPI_Win_create_dynamic(MPI_INFO_NULL, as_comm(comm_), win);
    int ok = rc == MPI_SUCCESS ? 1 : 0;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, as_comm(comm_));
    if (all_ok) {
      MPI_Win_set_errhandler(*win, MPI_ERRORS_RETURN);
      win_ = win;
    } else {
      if (ok) MPI_Win_free(win);
      delete win;
    }
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  layout_.hostname = host;
  recv_buf_.resize(1 << 16);
  local_of_.assign(layout_.size, -1);
  world_of_.assign(layout_.local_size, -1);
  MPI_Allgather(&layout_.rank, 1, MPI_INT, world_of_.data(), 1, MPI_INT, as_comm(node_comm_));
  for (int i = 0; i < layout_.local_size; ++i) local_of_[world_of_[i]] = i;
  open_mailboxes();
  // Off from here on (start-up's collectives above ran with MPI's own setting); the runtime's
  // later collectives turn it back on while they block (MpiYieldWhileBlocked).
  mpi_yield_before_ = disable_mpi_yield();
}

bool MpiTransport::node_all(bool mine) {
  int in = mine ? 1 : 0, all = 0;
  MpiYieldWhileBlocked blocking(mpi_yield_before_);
  MPI_Allreduce(&in, &all, 1, MPI_INT, MPI_MIN, as_comm(node_comm_));
  return all != 0;
}

void* MpiTransport::allocate_node_window(std::size_t bytes, int disp_unit, void** base) {
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each segment on its own pages
  auto* win = new MPI_Win;
  MpiYieldWhileBlocked blocking(mpi_yield_before_);
  const int rc = MPI_Win_allocate_shared(static_cast<MPI_Aint>(bytes), disp_unit, info,
                                         as_comm(node_comm_), base, win);
  MPI_Info_free(&info);
  if (!node_all(rc == MPI_SUCCESS)) {
    if (rc == MPI_SUCCESS) MPI_Win_free(win);
    delete win;
    return nullptr;
  }
  MPI_Win_set_errhandler(*win, MPI_ERRORS_RETURN);
  return win;
}

void MpiTransport::open_mailboxes() {
  if (layout_.size == 1) return;
  const char* env = std::getenv("MPIRAY_SHM_MAILBOX");
  const bool want = !(env && std::string(env) == "0") && layout_.local_size >= 2 &&
                    layout_.local_size <= ShmMailbox::kMaxLocalRanks;
  if (!node_all(want)) return;
  const std::size_t bytes = ShmMailbox::inbox_bytes(layout_.local_size) + 64;  // + alignment
  void* base = nullptr;
  auto* win = static_cast<MPI_Win*>(allocate_node_window(bytes, 64, &base));
  if (!win) return;
  // MPI promises no alignment (Open MPI's segments start 8 bytes past a page): each inbox
  // starts at the first 64-byte boundary of its segment, which has 64 bytes to spare for it.
  bool good = true;
  std::vector<void*> inboxes(layout_.local_size);
  for (int i = 0; good && i < layout_.local_size; ++i) {
    MPI_Aint size = 0;
    int unit = 0;
    void* p = nullptr;
    if (MPI_Win_shared_query(*win, i, &size, &unit, &p) != MPI_SUCCESS || p == nullptr) {
      good = false;
      break;
    }
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t aligned = (at + 63) / 64 * 64;
    good = static_cast<std::size_t>(size) >= bytes - 64 + (aligned - at);
    inboxes[i] = reinterpret_cast<void*>(aligned);
  }
  if (good) ShmMailbox::construct(inboxes[layout_.local_rank], layout_.local_size);
  // Also orders every inbox's construction before anyone's first push.
  if (!node_all(good)) {
    MPI_Win_free(win);
    delete win;
    return;
  }
  mailbox_win_ = win;
  mailbox_ = std::make_unique<ShmMailbox>(std::move(inboxes), layout_.local_rank);
  ring_wait_.resize(layout_.size);
}

bool MpiTransport::open_shared(std::size_t bytes) {
  if (layout_.size == 1) return false;
  // Every rank of the node must agree on using the segments (one may have asked for none).
  if (!node_all(bytes > 0 && layout_.local_size > 1)) return false;
  void* base = nullptr;
  auto* win = static_cast<MPI_Win*>(allocate_node_window(bytes, 1, &base));
  if (!win) return false;
  // One passive epoch for the job: reads are ordered by the runtime's own messages plus
  // MPI_Win_sync, never by per-read locks.
  MPI_Win_lock_all(MPI_MODE_NOCHECK, *win);
  shm_win_ = win;
  shm_base_ = static_cast<char*>(base);
  shm_size_ = bytes;
  peer_base_.assign(layout_.size, nullptr);
  peer_size_.assign(layout_.size, 0);
  for (int i = 0; i < layout_.local_size; ++i) {
    MPI_Aint size = 0;
    int unit = 0;
    void* p = nullptr;
    MPI_Win_shared_query(*win, i, &size, &unit, &p);
    peer_base_[world_of_[i]] = static_cast<const char*>(p);
    peer_size_[world_of_[i]] = static_cast<std::size_t>(size);
  }
  return true;
}

const char* MpiTransport::peer_segment(int rank) const {
  return rank >= 0 && rank < static_cast<int>(peer_base_.size()) ? peer_base_[rank] : nullptr;
}

std::size_t MpiTransport::peer_segment_size(int rank) const {
  return rank >= 0 && rank < static_cast<int>(peer_size_.size()) ? peer_size_[rank] : 0;
}

void MpiTransport::shared_sync() {
  if (shm_win_) MPI_Win_sync(*static_cast<MPI_Win*>(shm_win_));
}

MpiTransport::~MpiTransport() {
  restore_mpi_yield(mpi_yield_before_);
  if (mailbox_win_) {
    mailbox_.reset();
    MPI_Win_free(static_cast<MPI_Win*>(mailbox_win_));
    delete static_cast<MPI_Win*>(mailbox_win_);
  }
  if (shm_win_) {
    MPI_Win_unlock_all(*static_cast<MPI_Win*>(shm_win_));
    MPI_Win_free(static_cast<MPI_Win*>(shm_win_));
    delete static_cast<MPI_Win*>(shm_win_);
  }
  for (PendingSend* s : sends_) {
    if (s->req != MPI_REQUEST_NULL) MPI_Cancel(&s->req);
    delete s;
  }
  if (win_) {
    MPI_Win_free(static_cast<MPI_Win*>(win_));
    delete static_cast<MPI_Win*>(win_);
  }
  if (node_comm_) {
    MPI_Comm_free(&as_comm(node_comm_));
    delete static_cast<MPI_Comm*>(node_comm_);
  }
  if (comm_) {
    MPI_Comm_free(&as_comm(comm_));
    delete static_cast<MPI_Comm*>(comm_);
  }
  if (finalize_) MPI_Finalize();
}

bool MpiTransport::send(int dest, std::vector<char>& bytes) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw RuntimeError("mpiray: a message of " + std::to_string(bytes.size() >> 20) +
                       " MiB exceeds MPI's 2 GiB message limit; values this large move only "
                       "through one-sided windows, which this MPI/network does not provide");
  if (dest == layout_.rank)
    throw RuntimeError(
        "mpiray: internal error: a message to this rank itself reached the "
        "transport (the runtime hands those over directly)");
  ++sent_;
  bytes_sent_ += bytes.size();
  if (mailbox_ && local_of_[dest] >= 0) {
    auto& waiting = ring_wait_[dest];
    const Ring r = waiting.empty() ? try_ring(dest, bytes) : Ring::kNoRoom;
    if (r == Ring::kCopied) return false;
    if (r == Ring::kNoRoom) {
      waiting.push_back(std::move(bytes));  // behind earlier ones: order is kept
      ring_backlog_.fetch_add(1, std::memory_order_relaxed);
    }
  } else {
    isend(dest, kTag, std::move(bytes));
  }
  bytes.clear();  // moved from: the transport has the bytes
  return true;
}

MpiTransport::Ring MpiTransport::try_ring(int dest, std::vector<char>& bytes) {
  const int local = local_of_[dest];
  switch (mailbox_->push(local, bytes.data(), bytes.size())) {
    case ShmMailbox::Push::kDone:
      ++ring_sent_;
      return Ring::kCopied;
    case ShmMailbox::Push::kFull:
      return Ring::kNoRoom;
    case ShmMailbox::Push::kTooLarge:
      if (!mailbox_->push_marker(local)) return Ring::kNoRoom;
      ++ring_overflow_;
      isend(dest, kTagOverflow, std::move(bytes));
      return Ring::kTaken;
  }
  return Ring::kNoRoom;
}

void MpiTransport::isend(int dest, int tag, std::vector<char>&& bytes) {
  auto* s = new PendingSend;
  s->bytes = std::move(bytes);
  check(MPI_Isend(s->bytes.data(), static_cast<int>(s->bytes.size()), MPI_BYTE, dest, tag,
                  as_comm(comm_), &s->req),
        "MPI_Isend");
  sends_.push_back(s);
  mpi_sends_.store(sends_.size(), std::memory_order_relaxed);
}

bool MpiTransport::test_sends() {
  bool any = false;
  if (ring_backlog_ > 0) {
    for (int dest = 0; dest < layout_.size; ++dest) {
      auto& waiting = ring_wait_[dest];
      while (!waiting.empty() && try_ring(dest, waiting.front()) != Ring::kNoRoom) {
        waiting.pop_front();
        ring_backlog_.fetch_sub(1, std::memory_order_relaxed);
        any = true;
      }
    }
  }
  // Sends complete roughly in order; stop at the first unfinished one to keep this O(done).
  while (!sends_.empty()) {
    int done = 0;
    MPI_Test(&sends_.front()->req, &done, MPI_STATUS_IGNORE);
    if (!done) break;
    delete sends_.front();
    sends_.pop_front();
    mpi_sends_.store(sends_.size(), std::memory_order_relaxed);
    any = true;
  }
  return any;
}

struct MpiTransport::RingVisitor : ShmMailbox::Visitor {
  MpiTransport& t;
  const Handler& on_message;
  RingVisitor(MpiTransport& tr, const Handler& h) : t(tr), on_message(h) {}
  void message(int source, const char* data, std::size_t size) override {
    ++t.received_;
    on_message(t.world_of_[source], data, size);
  }
  bool marker(int source) override {
    const int world = t.world_of_[source];
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    check(MPI_Improbe(world, kTagOverflow, as_comm(t.comm_), &flag, &msg, &st), "MPI_Improbe");
    if (!flag) return false;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (t.recv_buf_.size() < static_cast<std::size_t>(count)) t.recv_buf_.resize(count);
    check(MPI_Mrecv(t.recv_buf_.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
    ++t.received_;
    on_message(world, t.recv_buf_.data(), static_cast<std::size_t>(count));
    return true;
  }
};

int MpiTransport::poll(const Handler& on_message, int max) {
  if (!mailbox_) return poll_mpi(on_message, max);
  RingVisitor v(*this, on_message);
  int n = mailbox_->poll(v, max);
  // Off-node ranks still come by MPI. On one node nothing does, but MPI's progress engine is
  // still run now and then (one-sided and collective requests of this rank).
  if (n < max && (layout_.nodes > 1 || (++polls_ & 15) == 0)) n += poll_mpi(on_message, max - n);
  return n;
}

int MpiTransport::poll_mpi(const Handler& on_message, int max) {
  int n = 0;
  while (n < max) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    check(MPI_Improbe(MPI_ANY_SOURCE, kTag, as_comm(comm_), &flag, &msg, &st), "MPI_Improbe");
    if (!flag) break;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (recv_buf_.size() < static_cast<std::size_t>(count)) recv_buf_.resize(count);
    check(MPI_Mrecv(recv_buf_.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
    ++received_;
    ++n;
    on_message(st.MPI_SOURCE, recv_buf_.data(), static_cast<std::size_t>(count));
  }
  return n;
}

void MpiTransport::abort(int code) {
  MPI_Abort(comm_ ? as_comm(comm_) : MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace mpiray::detail
