#pragma once
// A gate: a task that blocks, on its rank, until a second task pinned to the same rank opens it.
// Tasks that take the gate's ObjectRef as an argument then stay pending, without sleeps or
// timing, for as long as the test wants. The rank needs two task threads (one blocked in the
// gate, one to run open_gate), so suites using it run with --mpiray-threads 2.
//
//   Gate g(rank);                                   // submits gate_wait on `rank`
//   auto held = mpiray::task(f).remote(g.ref());    // pending until g.open()
//   g.open();                                       // also done by ~Gate, so nothing hangs

#include <mpiray/mpiray.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include "mpi/mpi_test_support.hpp"

namespace mpiray_test {

namespace gate_detail {
inline std::mutex mu;
inline std::condition_variable cv;
inline std::set<int> opened;  // keys opened on this process
}  // namespace gate_detail

/// Blocks until open_gate(key) ran on this process; returns 1, or -1 after a safety limit (so
/// that a broken test ends instead of hanging the job).
inline int gate_wait(int key) {
  std::unique_lock<std::mutex> lk(gate_detail::mu);
  const bool ok = gate_detail::cv.wait_for(lk, std::chrono::seconds(60),
                                           [&] { return gate_detail::opened.count(key) > 0; });
  return ok ? 1 : -1;
}

inline int open_gate(int key) {
  {
    std::lock_guard<std::mutex> lk(gate_detail::mu);
    gate_detail::opened.insert(key);
  }
  gate_detail::cv.notify_all();
  return key;
}

class Gate {
 public:
  explicit Gate(int rank) : rank_(rank), key_(unique_key()) {
    ref_ = mpiray::task(gate_wait).on_rank(rank_).remote(key_);
  }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate() {
    try {
      open();
    } catch (...) {
    }
  }
  /// Resolves to 1 once the gate is open.
  const mpiray::ObjectRef<int>& ref() const { return ref_; }
  void open() {
    if (open_) return;
    open_ = true;
    mpiray::task(open_gate).on_rank(rank_).remote(key_).get();
  }

 private:
  int rank_;
  int key_;
  bool open_ = false;
  mpiray::ObjectRef<int> ref_;
};

}  // namespace mpiray_test
