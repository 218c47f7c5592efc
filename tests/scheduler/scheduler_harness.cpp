#include "scheduler/scheduler_harness.hpp"

#include <utility>

#include "mpiray/remote.hpp"

namespace {
int harness_function(int x) {
  return x;
}
}  // namespace
MPIRAY_REMOTE(harness_function);

namespace mpiray_test {

using namespace mpiray::detail;

std::uint64_t task_function_id() {
  return fnv1a(kTaskFunction);
}

ArgsBuilder& ArgsBuilder::value(const std::string& bytes) {
  args_.emplace_back(false, bytes);
  return *this;
}

ArgsBuilder& ArgsBuilder::ref(ObjectId id) {
  args_.emplace_back(true, std::to_string(id));
  return *this;
}

std::string ArgsBuilder::build() const {
  Writer w;
  w.put<std::uint32_t>(static_cast<std::uint32_t>(args_.size()));
  for (const auto& [is_ref, text] : args_) {
    if (is_ref) {
      w.put(ArgKind::kRef);
      w.put<ObjectId>(std::stoull(text));
    } else {
      w.put(ArgKind::kValue);
      w.put_bytes(text);
    }
  }
  return std::string(w.data(), w.size());
}

std::vector<DecodedArg> decode_args(const std::string& args) {
  Reader r(args);
  std::vector<DecodedArg> out(r.get<std::uint32_t>());
  for (DecodedArg& a : out) {
    a.kind = r.get<ArgKind>();
    if (a.kind == ArgKind::kRef) {
      a.id = r.get<ObjectId>();
    } else if (a.kind == ArgKind::kRemote) {
      a.id = r.get<ObjectId>();
      r.get<std::int32_t>();
      r.get<std::uint64_t>();
    } else {
      a.bytes = std::string(r.get_bytes());
    }
  }
  if (!r.done()) throw std::runtime_error("trailing bytes after the arguments");
  return out;
}

SchedulerHarness::SchedulerHarness(std::vector<int> threads_per_rank)
    : scheduler(table, std::move(threads_per_rank)) {}

ObjectId SchedulerHarness::submit(std::string args, TaskOptions opt) {
  const ObjectId id = next_id_++;
  table.create_pending(id, 1);
  auto t = std::make_unique<TaskRecord>();
  t->id = id;
  t->func_id = opt.func_id != 0 ? opt.func_id : task_function_id();
  t->name = kTaskFunction;
  t->args = std::move(args);
  t->pin = opt.pin;
  t->retries_left = opt.retries;
  t->nested = opt.nested;
  if (opt.holds) {
    for (const DecodedArg& a : decode_args(t->args))
      if (a.kind == mpiray::detail::ArgKind::kRef) t->submit_holds.push_back(a.id);
    table.add_refs(t->submit_holds);
  }
  scheduler.submit(std::move(t));
  return id;
}

std::vector<Dispatched> SchedulerHarness::dispatch() {
  std::vector<Dispatched> out;
  scheduler.dispatch([&](int rank, const TaskRecord& t) { out.push_back({rank, t}); });
  return out;
}

void SchedulerHarness::succeed(int rank, ObjectId id, std::string bytes, std::uint32_t exec_ns,
                               const std::vector<int>& served) {
  auto d = std::make_shared<ObjectData>();
  d->bytes = std::move(bytes);
  scheduler.on_result(rank, id, exec_ns, std::move(d), served);
}

void SchedulerHarness::fail(int rank, ObjectId id, std::string type, std::string message,
                            std::uint32_t exec_ns) {
  auto e = std::make_shared<ErrorInfo>();
  e->function = kTaskFunction;
  e->rank = rank;
  e->type = std::move(type);
  e->message = std::move(message);
  auto d = std::make_shared<ObjectData>();
  d->error = std::move(e);
  scheduler.on_result(rank, id, exec_ns, std::move(d));
}

}  // namespace mpiray_test
