#pragma once
// A Scheduler over a real ObjectTable, driven by hand as the runtime would drive it from rank 0:
// create the result entry, submit, dispatch, feed results back. No MPI, no threads.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/core.hpp"
#include "mpiray/detail/registry.hpp"
#include "object_store/object_table.hpp"
#include "scheduler/scheduler.hpp"

namespace mpiray_test {

using mpiray::detail::ObjectId;
using mpiray::detail::ObjectPtr;

/// Registered name of the function every harness task calls (registered in the harness .cpp).
inline constexpr const char* kTaskFunction = "harness_function";
std::uint64_t task_function_id();

/// Builds a task's encoded argument list: values and ObjectRef ids, in order.
class ArgsBuilder {
 public:
  ArgsBuilder& value(const std::string& bytes);
  ArgsBuilder& ref(ObjectId id);
  std::string build() const;

 private:
  std::vector<std::pair<bool, std::string>> args_;  // (is_ref, bytes or id)
};

/// One argument of a dispatched task, as the worker would decode it.
struct DecodedArg {
  mpiray::detail::ArgKind kind;
  std::string bytes;  // kValue
  ObjectId id = 0;    // kRef
};
std::vector<DecodedArg> decode_args(const std::string& args);

struct Dispatched {
  int rank;
  mpiray::detail::TaskRecord task;
};

struct TaskOptions {
  int pin = -1;
  int retries = 0;
  bool nested = false;
  std::uint64_t func_id = 0;  // 0: the harness function
  bool holds = false;         // take a reference per ref argument first, as rank 0's submit does
};

class SchedulerHarness {
 public:
  explicit SchedulerHarness(std::vector<int> threads_per_rank);

  /// Creates the result entry (one reference, as the submitter's handle) and submits the task.
  ObjectId submit(std::string args, TaskOptions opt = {});
  ObjectId submit_plain(TaskOptions opt = {}) {
    return submit(ArgsBuilder().value("v").build(), opt);
  }
  /// Runs one dispatch round and returns what was sent, in order.
  std::vector<Dispatched> dispatch();
  /// Reports a task's success / failure from `rank`. exec_ns defaults to a duration that keeps
  /// the in-flight cap where it is (kQueuedWorkNs per task: two tasks per thread).
  void succeed(int rank, ObjectId id, std::string bytes,
               std::uint32_t exec_ns = mpiray::detail::Scheduler::kQueuedWorkNs,
               const std::vector<int>& served = {});
  void fail(int rank, ObjectId id, std::string type, std::string message,
            std::uint32_t exec_ns = mpiray::detail::Scheduler::kQueuedWorkNs);
  /// The completed object in the table, or nullptr while pending / unknown.
  ObjectPtr object(ObjectId id) { return table.try_get(id); }
  /// The scheduler's completed objects and dep messages since the last call.
  std::vector<ObjectId> completed() {
    std::vector<ObjectId> out;
    scheduler.take_completed(out);
    return out;
  }
  std::vector<mpiray::detail::DepMessage> dep_messages() {
    std::vector<mpiray::detail::DepMessage> out;
    scheduler.take_dep_messages(out);
    return out;
  }

  mpiray::detail::ObjectTable table;
  mpiray::detail::Scheduler scheduler;

 private:
  ObjectId next_id_ = 1;
};

}  // namespace mpiray_test
