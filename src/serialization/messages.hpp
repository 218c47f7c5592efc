#pragma once
// The runtime's own control records, in a compact byte format (see detail/buffer.hpp).
//
// An MPI message is a sequence of records, so many records queued for one rank travel as one
// message. A record is  u8 type | u32 payload length | payload.  Payloads:
//   Execute    u64 task, u64 func, u32 attempt, str name, str args, u64 parent (rank 0 -> worker)
//   Result     u64 task, u32 exec_ns, outcome [, u16 n, i32 ranks the executor served itself]
//   Submit     u64 task, u64 func, i32 pin, i32 retries, str name, str args, u64 parent (-> rank 0)
//   GetRequest u64 object                                                 (worker -> rank 0)
//   Object     u64 object, outcome                                        (rank 0 -> worker)
//   Release    u64 object                                                 (worker -> rank 0)
//   Pin        u64 object                                                 (worker -> rank 0)
//   Put        u64 object, outcome (value, or location when it stays on the worker) (-> rank 0)
//   Shutdown   i32 exit code                                              (rank 0 -> worker)
//   Block / Unblock  u64 0 (a task on the sender waits in get / resumes)   (worker -> rank 0)
//   Output     str line printed to stdout by the sender                  (worker -> rank 0)
//   ActorCreate u64 actor, u64 class, i32 max_concurrency, str args     (placer -> actor rank)
//   ActorCall  u64 call, u64 actor, u64 method, i32 caller, u64 order key, str args (-> actor rank)
//   ActorKill  u64 actor                                                 (any -> actor rank)
//   CallResult u64 call, i32 caller, outcome                             (actor rank -> rank 0)
//   NameRequest u64 reply, u8 op (1 register, 2 lookup), str name, u64 actor, i32 rank, u64 class
// outcome = u8 status: 1 = value (u64 type tag, str bytes); 2 = location (u64 type tag,
//           i32 owner rank, u64 size); 0 = error (str function, i32 rank, str type, str message).
// args    = u32 count, then per argument u8 kind: 0 = str value, 1 = u64 object id.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

enum class MsgType : std::uint8_t {
  kExecute = 1,
  kResult,
  kSubmit,
  kGetRequest,
  kObject,
  kRelease,
  kPin,
  kPut,
  kShutdown,
  kBlock,    // u64 0: a task on the sender started waiting in get()
  kUnblock,  // u64 0: it stopped waiting
  kOutput,   // str line: a line the sender's tasks printed to stdout
  kActorCreate,
  kActorCall,
  kActorKill,
  kCallResult,
  kNameRequest,
  kFetch,       // u64 object: the sender wants to read it one-sided     (reader -> holder)
  kFetchReady,  // u64 object, u8 ok, u64 window address, u64 size, u64 tag (holder -> reader)
  kFetchDone,   // u64 object: the read finished, the holder may unpin   (reader -> holder)
  kFree,        // u64 object: rank 0 freed it; drop the value or copy   (rank 0 -> holders)
  kBroadcast,   // u64 object, u64 size, u64 tag: join MPI_Ibcast #n     (rank 0 -> workers)
  kContains,    // u64 value, u8 kind (0 object, 1 task arguments), u32 n, u64 ids: refs inside
  kAddRef,      // u64 object: this worker now holds refs to it (it deserialized one)
  kTrace,  // str trace events (JSON objects, comma separated)      (worker -> rank 0, shutdown)
  kStats,  // RankStats as raw bytes                                 (worker -> rank 0, shutdown)
  // Worker-side release of dependents (scheduler.hpp, runtime_deps.cpp):
  kPushTo,    // u64 object, i32 consumer: push its value there once made   (rank 0 -> producer)
  kDepValue,  // u64 object, u8 final, outcome: a waited-for value  (producer or rank 0 -> consumer)
  kDepDone,   // u64 object, u8 consumer: nothing more about it will come; forget it (rank 0 -> any)
};

struct ExecuteView {
  ObjectId task = 0;
  std::uint64_t func = 0;
  std::uint32_t attempt = 0;
  std::string_view name;
  std::string_view args;
  ObjectId parent = 0;  // the task that submitted it (0: the driver)
};

struct SubmitView {
  ObjectId task = 0;
  std::uint64_t func = 0;
  std::int32_t pin = -1;
  std::int32_t retries = 0;
  std::string_view name;
  std::string_view args;
  ObjectId parent = 0;
};

/// Starts a record; pass the returned offset to end_record once the payload is written.
std::size_t begin_record(Writer& w, MsgType type);
void end_record(Writer& w, std::size_t at);

void encode_execute(Writer& w, ObjectId task, std::uint64_t func, std::uint32_t attempt,
                    std::string_view name, std::string_view args, ObjectId parent = 0);
void encode_result(Writer& w, ObjectId task, std::uint32_t exec_ns, const ObjectData& outcome,
                   const std::vector<int>& served = {});
void encode_result_ok(Writer& w, ObjectId task, std::uint32_t exec_ns, std::string_view bytes,
                      std::uint64_t type_tag, const std::vector<int>& served = {});
/// The served ranks at the end of a Result payload (empty when there are none).
std::vector<int> decode_served(Reader& r);
/// The same into `out` (its capacity reused).
void decode_served(Reader& r, std::vector<int>& out);
void encode_push_to(Writer& w, ObjectId id, std::int32_t consumer);
void encode_dep_value(Writer& w, ObjectId id, bool final, const ObjectData& outcome);
void encode_dep_done(Writer& w, ObjectId id, bool consumer);
void encode_submit(Writer& w, ObjectId task, const TaskSubmission& t);
void encode_id(Writer& w, MsgType type, ObjectId id);  // GetRequest, Release, Pin
void encode_object(Writer& w, ObjectId id, const ObjectData& d);
void encode_put(Writer& w, ObjectId id, const ObjectData& d);
void encode_shutdown(Writer& w, std::int32_t code);

struct ActorCallView {
  ObjectId call = 0;
  ObjectId actor = 0;
  std::uint64_t method = 0;
  std::int32_t caller = 0;
  ObjectId order_key = 0;
  std::string_view args;
};

void encode_actor_create(Writer& w, ObjectId actor, std::uint64_t cls, std::int32_t max_concurrency,
                         std::string_view args);
void encode_actor_call(Writer& w, ObjectId call, ObjectId actor, std::uint64_t method,
                       std::int32_t caller, ObjectId order_key, std::string_view args);
void encode_call_result(Writer& w, ObjectId call, std::int32_t caller, const ObjectData& outcome);
void encode_name_request(Writer& w, ObjectId reply, std::uint8_t op, std::string_view name,
                         const ActorRef& ref);
ActorCallView decode_actor_call(Reader& r);

ExecuteView decode_execute(Reader& r);
SubmitView decode_submit(Reader& r);
/// Reads an outcome; errors are shared so dependents can reuse them without copying.
ObjectPtr decode_outcome(Reader& r);
void encode_outcome(Writer& w, const ObjectData& d);

/// Calls fn(type, payload_reader) for every record in an MPI message.
template <class Fn>
void for_each_record(const char* data, std::size_t size, Fn&& fn) {
  Reader all(data, size);
  while (!all.done()) {
    const auto type = all.get<MsgType>();
    const auto len = all.get<std::uint32_t>();
    Reader payload(all.take(len), len);
    fn(type, payload);
  }
}

}  // namespace mpiray::detail
