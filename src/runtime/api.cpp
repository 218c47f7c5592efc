// The public API and the detail/core.hpp entry points, forwarding to the process's Runtime.

#include <atomic>
#include <iostream>
#include <unordered_map>

#include "mpiray/mpiray.hpp"
#include "runtime/config.hpp"
#include "runtime/error_info.hpp"
#include "runtime/runtime.hpp"

namespace mpiray {
namespace detail {
namespace {
std::atomic<Runtime*> g_runtime{nullptr};

Runtime& rt() {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  if (!r)
    throw RuntimeError(
        "mpiray: the runtime is not running; call this inside mpiray::run(argc, argv, body)");
  return *r;
}
}  // namespace

Runtime* current_runtime() noexcept {
  return g_runtime.load(std::memory_order_acquire);
}

ObjectId submit_task(TaskSubmission&& t) {
  return rt().submit(std::move(t));
}
ObjectId put_object(Blob bytes, std::uint64_t type_tag, std::vector<ObjectId> contained,
                    std::shared_ptr<const void> typed) {
  return rt().put(std::move(bytes), type_tag, std::move(contained), std::move(typed));
}
ObjectId broadcast_object(Blob bytes, std::uint64_t type_tag, std::shared_ptr<const void> typed) {
  return rt().broadcast(std::move(bytes), type_tag, std::move(typed));
}

namespace {
// Filled during static initialisation (before any thread exists), read-only afterwards.
std::unordered_map<std::uint64_t, InPlaceMaker>& in_place_makers() {
  static std::unordered_map<std::uint64_t, InPlaceMaker> m;
  return m;
}
}  // namespace
void register_in_place(std::uint64_t type_tag, InPlaceMaker make) {
  in_place_makers()[type_tag] = make;
}
FetchCounters fetch_counters() noexcept {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  return r ? r->fetch_counters() : FetchCounters{};
}
ReleaseCounters release_counters() noexcept {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  return r ? r->release_counters() : ReleaseCounters{};
}
PendingCounters pending_counters() noexcept {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  return r ? r->pending_counters() : PendingCounters{};
}
CourtesyCounters courtesy_counters() noexcept {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  return r ? r->courtesy_counters() : CourtesyCounters{};
}
TransportCounters transport_counters() noexcept {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  return r ? r->transport_counters() : TransportCounters{};
}
InPlaceMaker find_in_place(std::uint64_t type_tag) noexcept {
  const auto& m = in_place_makers();
  const auto it = m.find(type_tag);
  return it == m.end() ? nullptr : it->second;
}
void throw_type_mismatch(std::uint64_t stored, std::uint64_t wanted, const char* wanted_name) {
  (void)stored;
  (void)wanted;
  throw ObjectError("mpiray: type mismatch: the object was stored as another type than " +
                    demangle(wanted_name) +
                    "; read it with the ObjectRef<T> of the type that was put or returned");
}
ObjectPtr get_object(ObjectId id, Deadline deadline) {
  return rt().get(id, deadline);
}
std::vector<char> wait_objects(const std::vector<ObjectId>& ids, std::size_t num,
                               Deadline deadline) {
  return rt().wait(ids, num, deadline);
}
bool object_ready(ObjectId id) {
  return rt().ready(id);
}
void add_ref(ObjectId id) noexcept {
  if (Runtime* r = current_runtime()) r->add_ref(id);
}
void release_ref(ObjectId id) noexcept {
  if (Runtime* r = current_runtime()) r->release(id);
}
void pin_ref(ObjectId id) {
  rt().pin(id);
}

namespace {
thread_local std::vector<ObjectId>* tl_contained = nullptr;
}  // namespace

void note_contained(ObjectId id) {
  Runtime* r = current_runtime();
  if (!r) return;
  if (!tl_contained) {
    r->pin(id);  // no value owns it: keep it until shutdown
    return;
  }
  r->add_ref(id);  // held by this rank until the container's record is handed over
  tl_contained->push_back(id);
}

ContainedScope::ContainedScope() : prev_(tl_contained) {
  tl_contained = &ids_;
}
ContainedScope::~ContainedScope() {
  tl_contained = prev_;
  for (ObjectId id : ids_) release_ref(id);  // not taken by a container: drop the holds
}
std::vector<ObjectId> ContainedScope::take() {
  std::vector<ObjectId> out;
  out.swap(ids_);
  return out;
}
void throw_task_error(const ErrorInfo& e) {
  if (e.type == "mpiray::ObjectError" && e.function == "mpiray::get")
    throw ObjectError("mpiray: " + e.message);
  if (e.type == "mpiray::ActorDiedError")
    throw ActorDiedError(e.function, e.rank, e.type, e.message);
  if (e.type == "mpiray::ActorCreationError")
    throw ActorCreationError(e.function, e.rank, e.type, e.message);
  throw TaskError(e.function, e.rank, e.type, e.message);
}
int current_rank() noexcept {
  return current_runtime() ? current_runtime()->rank() : 0;
}
int current_world_size() noexcept {
  return current_runtime() ? current_runtime()->size() : 1;
}
int current_num_workers() noexcept {
  return current_runtime() ? current_runtime()->num_workers() : 0;
}
bool runtime_active() noexcept {
  return current_runtime() != nullptr;
}
void check_pin(int rank) {
  rt().check_pin(rank);
}
ActorRef create_actor(ActorSpec&& spec) {
  return rt().create_actor(std::move(spec));
}
ObjectId call_actor(const ActorRef& actor, std::uint64_t method, std::string args,
                    std::vector<ObjectId> contained) {
  return rt().call_actor(actor, method, std::move(args), std::move(contained));
}
void kill_actor(const ActorRef& actor) {
  rt().kill_actor(actor);
}
ActorRef find_named_actor(const std::string& name) {
  return rt().find_named_actor(name);
}

}  // namespace detail

int run(int argc, char** argv, std::function<int()> body) {
  if (detail::current_runtime())
    throw RuntimeError("mpiray::run is already active in this process; call it once, from main");
  std::unique_ptr<detail::Runtime> runtime;
  try {
    runtime = std::make_unique<detail::Runtime>(&argc, &argv);
  } catch (const ConfigError&) {
    return 2;  // already reported on stderr by the rank(s) that noticed
  } catch (const RegistrationError&) {
    return 3;
  }
  detail::g_runtime.store(runtime.get(), std::memory_order_release);
  const int code = runtime->run(body);
  detail::g_runtime.store(nullptr, std::memory_order_release);
  runtime.reset();
  return code;
}

bool help_requested(int argc, char** argv) noexcept {
  return detail::has_flag(argc, argv, "--help") || detail::has_flag(argc, argv, "-h");
}

std::string runtime_help() {
  return "mpiray runtime options:\n"
         "  --mpiray-threads N     task threads per worker rank (env MPIRAY_THREADS; default\n"
         "                         SLURM_CPUS_PER_TASK, else cores per node / ranks per node)\n"
         "environment:\n"
         "  MPIRAY_QUIET=1         no start-up banner on rank 0\n"
         "  MPIRAY_SPIN_US, MPIRAY_YIELD_US, MPIRAY_MAX_SLEEP_US  idle back-off tuning\n"
         "launch: ./app (one process), mpirun -np N ./app, or srun --mpi=pmix ./app\n";
}

int rank() noexcept {
  return detail::current_rank();
}
int world_size() noexcept {
  return detail::current_world_size();
}
int num_workers() noexcept {
  return detail::current_num_workers();
}
int num_threads() noexcept {
  return detail::current_runtime() ? detail::current_runtime()->threads() : 0;
}

}  // namespace mpiray
