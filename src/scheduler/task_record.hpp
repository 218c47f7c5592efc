#pragma once
// A task on rank 0, from submission until its result is recorded (the scheduler's record).

#include <cstdint>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "mpiray/detail/core.hpp"
#include "object_store/object_table.hpp"

namespace mpiray::detail {

struct TaskRecord {
  // The fields every dependency step reads first, in one cache line: a completion visits each
  // waiting task's record (release_waiters), and with thousands of records in flight most visits
  // miss the cache (perf: the flag test was half of release_waiters' time at offset 288).
  ObjectId id = 0;
  std::uint32_t unresolved = 0;
  // Of the missing arguments, those whose producing task has not been dispatched yet: the task
  // is considered for sending ahead only once this is zero (counted, not re-checked: checking
  // every dependent each time one of its producers went out was a fifth of rank 0's time).
  std::uint32_t unsent_producers = 0;
  int running_on = -1;
  int pin = -1;
  int retries_left = 0;
  std::uint32_t attempt = 0;
  int submitter = 0;
  int preferred = -1;  // rank holding the largest argument (locality)
  // Worker-side release (see Scheduler): this task was sent to its executor before some of its
  // arguments existed; they stay kRef in `args` and the executor waits for them itself.
  bool predispatched = false;
  bool held_back = false;  // queued in a rank's held_back
  bool sent_once = false;  // dispatched at least once
  bool nested = false;     // submitted from inside a task: dispatched without waiting for room
  std::uint64_t func_id = 0;
  ObjectId parent = 0;  // the submitting task: its thread may run this one while it waits
  std::string args;     // encoded; ref arguments replaced by values once resolved
  std::string name;
  IdList deps;
  IdList submit_holds;                // references the submitter took; dropped once scheduled
  std::vector<ObjectId> contained;    // refs serialized in the arguments; dropped when it ends
  std::vector<ObjectId> remote_deps;  // arguments the executor fetches itself (kRemote)
  boost::container::small_vector<int, 2> consumers;   // ranks running pre-dispatched dependents
  boost::container::small_vector<int, 2> push_asked;  // of them, those asked to be pushed to

  /// Back to a new record's state for reuse, keeping small buffers (a large argument's is freed).
  void reset();
};

}  // namespace mpiray::detail
