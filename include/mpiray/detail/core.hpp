#pragma once
// The narrow interface between the header-only API templates and the compiled runtime.
// Everything here is implemented in src/runtime/api.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "mpiray/detail/blob.hpp"

namespace mpiray::detail {

using ObjectId = std::uint64_t;
using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;

/// What a failed task left behind; shared by every object that failed because of it.
struct ErrorInfo {
  std::string function;
  int rank = -1;
  std::string type;
  std::string message;
};

/// A completed object: either bytes (the value's encoding) or the error that replaced it.
struct ObjectData {
  Blob bytes;                              // the value's encoding, when it is held on this rank
  std::shared_ptr<const ErrorInfo> error;  // set instead of a value when the producer failed
  int owner = -1;              // >= 0: the value lives on that rank only (bytes empty here)
  std::uint64_t size = 0;      // encoded size, also known where the value is not held
  std::uint64_t type_tag = 0;  // hash of the producer's type name (0 = unknown)
  /// Decoded value, made on first view() on this rank (zero-copy afterwards). Use the atomic
  /// shared_ptr functions: several threads may view one object.
  mutable std::shared_ptr<const void> typed;
  bool failed() const { return error != nullptr; }
  /// True when the value (or error) is here and can be decoded without fetching.
  bool local() const { return owner < 0 || error != nullptr; }
};

/// Stable tag of a value type, checked when an object is read back as some type.
template <class T>
std::uint64_t type_tag_of() {
  std::uint64_t h = 14695981039346656037ull;
  for (const char* p = typeid(T).name(); *p; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= 1099511628211ull;
  }
  return h;
}
[[noreturn]] void throw_type_mismatch(std::uint64_t stored, std::uint64_t wanted,
                                      const char* wanted_name);
using ObjectPtr = std::shared_ptr<const ObjectData>;

/// A task as submitted: args are encoded (see encode_args in remote.hpp), refs not yet resolved.
struct TaskSubmission {
  std::uint64_t func_id = 0;
  std::string args;
  std::vector<ObjectId> contained;  // refs serialized inside the arguments (held until done)
  ObjectId parent = 0;              // the submitting task (set by the runtime)
  int pin = -1;
  int max_retries = 0;
  std::string name;
};

ObjectId submit_task(TaskSubmission&& t);  // returns the result's id, holding one reference
/// Stores a value; `typed` (optional) is the decoded value whose storage `bytes` points into.
/// Returns the id, holding one reference.
ObjectId put_object(Blob bytes, std::uint64_t type_tag = 0, std::vector<ObjectId> contained = {},
                    std::shared_ptr<const void> typed = nullptr);
/// Copies `bytes` to every rank (a collective broadcast); returns the id, holding one reference.
ObjectId broadcast_object(Blob bytes, std::uint64_t type_tag,
                          std::shared_ptr<const void> typed = nullptr);

/// A decoded value made ready to receive its own encoding in place: `data` is where the bytes
/// go (its storage), `value` keeps it alive. Empty when the byte count cannot be such a value.
struct InPlaceTarget {
  std::shared_ptr<const void> value;
  char* data = nullptr;
};
using InPlaceMaker = InPlaceTarget (*)(std::size_t bytes);
/// Registered (at static initialisation, per type tag) for the types whose encoding is their
/// storage; fetches and broadcasts then land directly in the decoded value.
void register_in_place(std::uint64_t type_tag, InPlaceMaker make);
InPlaceMaker find_in_place(std::uint64_t type_tag) noexcept;
ObjectPtr get_object(ObjectId id, Deadline deadline);
/// Returns a ready flag per id (1 = complete or failed), stopping once `num` are ready.
std::vector<char> wait_objects(const std::vector<ObjectId>& ids, std::size_t num,
                               Deadline deadline);
bool object_ready(ObjectId id);
void add_ref(ObjectId id) noexcept;
void release_ref(ObjectId id) noexcept;
/// Called when a ref is serialized into a value: the object then lives until shutdown.
void pin_ref(ObjectId id);

/// Refs serialized into a value while a ContainedScope is active on this thread are collected:
/// the runtime then keeps those objects alive exactly as long as the value that contains them
/// (a put object, a task result, a task's arguments). Outside a scope, a serialized ref pins its
/// object until shutdown.
void note_contained(ObjectId id);
class ContainedScope {
 public:
  ContainedScope();
  ~ContainedScope();
  ContainedScope(const ContainedScope&) = delete;
  ContainedScope& operator=(const ContainedScope&) = delete;
  /// The ids collected so far; each carries one reference taken by note_contained, which the
  /// runtime hands over to the container.
  std::vector<ObjectId> take();

 private:
  std::vector<ObjectId> ids_;
  std::vector<ObjectId>* prev_;
};
[[noreturn]] void throw_task_error(const ErrorInfo& e);

/// Where an actor lives; the whole of an ActorHandle (trivially copyable, so handles travel as
/// plain bytes inside task arguments and values).
struct ActorRef {
  ObjectId actor = 0;
  std::int32_t rank = -1;
  std::uint64_t class_id = 0;
};

struct ActorSpec {
  std::uint64_t class_id = 0;
  std::string args;  // encoded like task arguments
  int pin = -1;
  int max_concurrency = 1;
  std::string name;  // empty: anonymous
  /// Refs serialized inside the constructor arguments (each carrying one reference): they live
  /// as long as the actor (released when the driver kills it, else at shutdown).
  std::vector<ObjectId> contained;
};

/// Places and constructs an actor; returns at once. Throws ConfigError on a duplicate name.
ActorRef create_actor(ActorSpec&& spec);
/// Sends a method call straight to the actor's rank; returns the result's id.
/// `contained`: refs serialized inside the arguments (each carrying one reference), held until
/// the call's result exists.
ObjectId call_actor(const ActorRef& actor, std::uint64_t method_id, std::string args,
                    std::vector<ObjectId> contained = {});
void kill_actor(const ActorRef& actor);
/// Looks a named actor up (asks rank 0 from other ranks). Empty ref (actor == 0) if unknown.
ActorRef find_named_actor(const std::string& name);

/// Bytes this rank has fetched so far, by path (tests and statistics).
struct FetchCounters {
  std::uint64_t window = 0;   // one-sided MPI_Get from the holder's dynamic window
  std::uint64_t shared = 0;   // memcpy from a same-node holder's shared-memory segment
  std::uint64_t message = 0;  // sent as a message (no one-sided window on this network)
};
FetchCounters fetch_counters() noexcept;

/// Worker-side release of dependents on this rank so far (tests and statistics).
struct ReleaseCounters {
  bool enabled = false;           // rank 0: worker-side release is on for this job
  std::uint64_t sent_ahead = 0;   // rank 0: tasks sent before their arguments existed
  std::uint64_t forwarded = 0;    // rank 0: values it sent to waiting ranks nobody served
  std::uint64_t served_here = 0;  // executor: values it made and gave to its own waiting tasks
  std::uint64_t pushed = 0;       // executor: values it pushed to waiting tasks on other ranks
};
ReleaseCounters release_counters() noexcept;

/// Rank 0: tasks submitted and not finished, against the driver's limit (tests and statistics).
struct PendingCounters {
  std::size_t limit = 0;       // MPIRAY_MAX_PENDING (0: no limit)
  std::size_t pending = 0;     // now
  std::size_t high_water = 0;  // most at once so far
  std::uint64_t waits = 0;     // submissions that waited for room
  std::uint64_t wait_ns = 0;   // time they waited
  std::uint64_t stalls = 0;    // waits given up because no pending task completed
};
PendingCounters pending_counters() noexcept;

/// This rank's progress thread stepping aside for threads that poll themselves (tests).
struct CourtesyCounters {
  std::uint64_t pauses = 0;        // pauses while another thread polled
  std::uint64_t graph_pauses = 0;  // of them, long ones: rank 0's driver waited for a graph
  std::uint64_t graph_woken = 0;   // of those, ended early: woken by the driver
};
CourtesyCounters courtesy_counters() noexcept;

/// Messages this rank sent so far, by path (tests and statistics).
struct TransportCounters {
  bool rings = false;               // this node's ranks exchange messages through shared rings
  std::uint64_t sent = 0;           // all messages
  std::uint64_t ring_sent = 0;      // of them, through a same-node ring
  std::uint64_t ring_overflow = 0;  // same-node ones too large for a ring (a marker, then MPI)
  std::uint64_t doorbells = 0;      // wake-ups of sleeping ranks this rank's messages caused
};
TransportCounters transport_counters() noexcept;

int current_rank() noexcept;
int current_world_size() noexcept;
int current_num_workers() noexcept;
bool runtime_active() noexcept;
/// Validates on_rank(r) against the running world, throwing ConfigError with the valid range.
void check_pin(int rank);

}  // namespace mpiray::detail
