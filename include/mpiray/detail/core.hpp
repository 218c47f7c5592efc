#pragma once
// The narrow interface between the header-only API templates and the compiled runtime.
// Everything here is implemented in src/runtime/api.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  std::string bytes;
  std::shared_ptr<const ErrorInfo> error;
  bool failed() const { return error != nullptr; }
};
using ObjectPtr = std::shared_ptr<const ObjectData>;

/// A task as submitted: args are encoded (see encode_args in remote.hpp), refs not yet resolved.
struct TaskSubmission {
  std::uint64_t func_id = 0;
  std::string args;
  int pin = -1;
  int max_retries = 0;
  std::string name;
};

ObjectId submit_task(TaskSubmission&& t);  // returns the result's id, holding one reference
ObjectId put_object(std::string bytes);    // returns the id, holding one reference
ObjectPtr get_object(ObjectId id, Deadline deadline);
/// Returns a ready flag per id (1 = complete or failed), stopping once `num` are ready.
std::vector<char> wait_objects(const std::vector<ObjectId>& ids, std::size_t num, Deadline deadline);
bool object_ready(ObjectId id);
void add_ref(ObjectId id) noexcept;
void release_ref(ObjectId id) noexcept;
/// Called when a ref is serialized into a value: the object then lives until shutdown.
void pin_ref(ObjectId id);
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
};

/// Places and constructs an actor; returns at once. Throws ConfigError on a duplicate name.
ActorRef create_actor(ActorSpec&& spec);
/// Sends a method call straight to the actor's rank; returns the result's id.
ObjectId call_actor(const ActorRef& actor, std::uint64_t method_id, std::string args);
void kill_actor(const ActorRef& actor);
/// Looks a named actor up (asks rank 0 from other ranks). Empty ref (actor == 0) if unknown.
ActorRef find_named_actor(const std::string& name);

int current_rank() noexcept;
int current_world_size() noexcept;
int current_num_workers() noexcept;
bool runtime_active() noexcept;
/// Validates on_rank(r) against the running world, throwing ConfigError with the valid range.
void check_pin(int rank);

}  // namespace mpiray::detail
