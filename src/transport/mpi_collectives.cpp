// The transport's one-sided windows (objects fetched with MPI_Get), broadcasts, reductions and
// the quiescence check at shutdown; point-to-point messaging is in mpi_transport.cpp.

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "transport/backoff.hpp"
#include "transport/mpi_check.hpp"
#include "transport/mpi_transport.hpp"

namespace mpiray::detail {

namespace {
// MPI counts are ints: move large buffers in pieces of at most 1 GiB.
constexpr std::size_t kChunk = std::size_t(1) << 30;
}  // namespace

std::uint64_t MpiTransport::attach(const void* p, std::size_t n) {
  MPI_Win& win = *static_cast<MPI_Win*>(win_);
  check(MPI_Win_attach(win, const_cast<void*>(p), static_cast<MPI_Aint>(n == 0 ? 1 : n)),
        "MPI_Win_attach");
  MPI_Aint addr = 0;
  MPI_Get_address(p, &addr);
  return static_cast<std::uint64_t>(addr);
}

void MpiTransport::detach(const void* p) {
  check(MPI_Win_detach(*static_cast<MPI_Win*>(win_), p), "MPI_Win_detach");
}

void MpiTransport::get(void* dst, std::size_t n, int owner, std::uint64_t addr) {
  MPI_Win& win = *static_cast<MPI_Win*>(win_);
  check(MPI_Win_lock(MPI_LOCK_SHARED, owner, 0, win), "MPI_Win_lock");
  for (std::size_t off = 0; off < n; off += kChunk) {
    const std::size_t len = std::min(kChunk, n - off);
    check(MPI_Get(static_cast<char*>(dst) + off, static_cast<int>(len), MPI_BYTE, owner,
                  static_cast<MPI_Aint>(addr + off), static_cast<int>(len), MPI_BYTE, win),
          "MPI_Get");
  }
  check(MPI_Win_unlock(owner, win), "MPI_Win_unlock");
}

int MpiTransport::start_bcast(void* p, std::size_t n) {
  std::vector<void*> reqs;
  std::size_t off = 0;
  do {
    const std::size_t len = std::min(kChunk, n - off);
    auto* req = new MPI_Request;
    check(MPI_Ibcast(static_cast<char*>(p) + off, static_cast<int>(len), MPI_BYTE, 0,
                     as_comm(comm_), req),
          "MPI_Ibcast");
    reqs.push_back(req);
    off += len;
  } while (off < n);
  const int handle = next_bcast_++;
  bcasts_[handle] = std::move(reqs);
  return handle;
}

bool MpiTransport::bcast_done(int handle) {
  auto it = bcasts_.find(handle);
  if (it == bcasts_.end()) return true;
  bool all = true;
  for (void*& r : it->second) {
    if (!r) continue;
    int done = 0;
    MPI_Test(static_cast<MPI_Request*>(r), &done, MPI_STATUS_IGNORE);
    if (done) {
      delete static_cast<MPI_Request*>(r);
      r = nullptr;
    } else {
      all = false;
    }
  }
  if (all) bcasts_.erase(it);
  return all;
}

std::vector<int> MpiTransport::gather_int(int value) {
  std::vector<int> all(layout_.size);
  MpiYieldWhileBlocked blocking(mpi_yield_before_);
  check(MPI_Allgather(&value, 1, MPI_INT, all.data(), 1, MPI_INT, as_comm(comm_)), "MPI_Allgather");
  return all;
}

namespace {
// One 64-bit value reduced over `comm`, with MPI's yield-when-idle back on while it blocks.
std::uint64_t allreduce_u64(std::uint64_t v, MPI_Op op, MPI_Comm comm, int yield_before) {
  std::uint64_t out = 0;
  MpiYieldWhileBlocked blocking(yield_before);
  check(MPI_Allreduce(&v, &out, 1, MPI_UINT64_T, op, comm), "MPI_Allreduce");
  return out;
}
}  // namespace

std::uint64_t MpiTransport::allreduce_min(std::uint64_t v) {
  return allreduce_u64(v, MPI_MIN, as_comm(comm_), mpi_yield_before_);
}

std::uint64_t MpiTransport::allreduce_max(std::uint64_t v) {
  return allreduce_u64(v, MPI_MAX, as_comm(comm_), mpi_yield_before_);
}

std::vector<std::uint64_t> MpiTransport::node_or(std::vector<std::uint64_t> words) {
  std::vector<std::uint64_t> out(words.size());
  MpiYieldWhileBlocked blocking(mpi_yield_before_);
  check(MPI_Allreduce(words.data(), out.data(), static_cast<int>(words.size()), MPI_UINT64_T,
                      MPI_BOR, as_comm(node_comm_)),
        "MPI_Allreduce");
  return out;
}

std::uint64_t MpiTransport::node_sum(std::uint64_t v) {
  return allreduce_u64(v, MPI_SUM, as_comm(node_comm_), mpi_yield_before_);
}

void MpiTransport::quiesce(const Handler& on_message) {
  std::uint64_t prev[2] = {~0ull, ~1ull};
  Backoff backoff;
  for (;;) {
    std::uint64_t local[2] = {sent_, received_};
    std::uint64_t global[2] = {0, 0};
    MPI_Request req;
    check(MPI_Iallreduce(local, global, 2, MPI_UINT64_T, MPI_SUM, as_comm(comm_), &req),
          "MPI_Iallreduce");
    for (;;) {
      int done = 0;
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) break;
      const bool busy = poll(on_message) > 0;
      test_sends();
      if (busy) {
        backoff.reset();
      } else if (auto w = backoff.step(); w.count() > 0) {
        std::this_thread::sleep_for(w);
      }
    }
    if (global[0] == global[1] && global[0] == prev[0] && global[1] == prev[1]) break;
    prev[0] = global[0];
    prev[1] = global[1];
  }
  while (pending_sends() > 0) {
    if (!test_sends()) std::this_thread::yield();
  }
}

}  // namespace mpiray::detail
