#include "serialization/messages.hpp"

namespace mpiray::detail {

std::size_t begin_record(Writer& w, MsgType type) {
  w.put(type);
  return w.begin_len();
}

void end_record(Writer& w, std::size_t at) {
  w.end_len(at);
}

void encode_execute(Writer& w, ObjectId task, std::uint64_t func, std::uint32_t attempt,
                    std::string_view name, std::string_view args, ObjectId parent) {
  const auto at = begin_record(w, MsgType::kExecute);
  w.put(task);
  w.put(func);
  w.put(attempt);
  w.put_bytes(name);
  w.put_bytes(args);
  w.put(parent);
  end_record(w, at);
}

void encode_outcome(Writer& w, const ObjectData& d) {
  if (d.failed()) {
    w.put<std::uint8_t>(0);
    w.put_bytes(d.error->function);
    w.put<std::int32_t>(d.error->rank);
    w.put_bytes(d.error->type);
    w.put_bytes(d.error->message);
  } else if (d.owner >= 0) {
    w.put<std::uint8_t>(2);
    w.put(d.type_tag);
    w.put<std::int32_t>(d.owner);
    w.put<std::uint64_t>(d.size);
  } else {
    w.put<std::uint8_t>(1);
    w.put(d.type_tag);
    w.put_bytes(d.bytes);
  }
}

ObjectPtr decode_outcome(Reader& r) {
  auto d = std::make_shared<ObjectData>();
  const auto status = r.get<std::uint8_t>();
  if (status == 1) {
    d->type_tag = r.get<std::uint64_t>();
    d->bytes.assign(r.get_bytes());  // small values inline in the Blob: no allocation
    d->size = d->bytes.size();
    return d;
  }
  if (status == 2) {
    d->type_tag = r.get<std::uint64_t>();
    d->owner = r.get<std::int32_t>();
    d->size = r.get<std::uint64_t>();
    return d;
  }
  auto e = std::make_shared<ErrorInfo>();
  e->function = std::string(r.get_bytes());
  e->rank = r.get<std::int32_t>();
  e->type = std::string(r.get_bytes());
  e->message = std::string(r.get_bytes());
  d->error = std::move(e);
  return d;
}

namespace {
void put_served(Writer& w, const std::vector<int>& served) {
  if (served.empty()) return;
  w.put(static_cast<std::uint16_t>(served.size()));
  for (int r : served) w.put<std::int32_t>(r);
}
}  // namespace

void encode_result(Writer& w, ObjectId task, std::uint32_t exec_ns, const ObjectData& outcome,
                   const std::vector<int>& served) {
  const auto at = begin_record(w, MsgType::kResult);
  w.put(task);
  w.put(exec_ns);
  encode_outcome(w, outcome);
  put_served(w, served);
  end_record(w, at);
}

void encode_result_ok(Writer& w, ObjectId task, std::uint32_t exec_ns, std::string_view bytes,
                      std::uint64_t type_tag, const std::vector<int>& served) {
  const auto at = begin_record(w, MsgType::kResult);
  w.put(task);
  w.put(exec_ns);
  w.put<std::uint8_t>(1);
  w.put(type_tag);
  w.put_bytes(bytes);
  put_served(w, served);
  end_record(w, at);
}

std::vector<int> decode_served(Reader& r) {
  std::vector<int> served;
  decode_served(r, served);
  return served;
}

void decode_served(Reader& r, std::vector<int>& out) {
  out.clear();
  if (r.done()) return;
  out.resize(r.get<std::uint16_t>());
  for (int& x : out) x = r.get<std::int32_t>();
}

void encode_push_to(Writer& w, ObjectId id, std::int32_t consumer) {
  const auto at = begin_record(w, MsgType::kPushTo);
  w.put(id);
  w.put(consumer);
  end_record(w, at);
}

void encode_dep_value(Writer& w, ObjectId id, bool final, const ObjectData& outcome) {
  const auto at = begin_record(w, MsgType::kDepValue);
  w.put(id);
  w.put<std::uint8_t>(final ? 1 : 0);
  encode_outcome(w, outcome);
  end_record(w, at);
}

void encode_dep_done(Writer& w, ObjectId id, bool consumer) {
  const auto at = begin_record(w, MsgType::kDepDone);
  w.put(id);
  w.put<std::uint8_t>(consumer ? 1 : 0);
  end_record(w, at);
}

void encode_submit(Writer& w, ObjectId task, const TaskSubmission& t) {
  const auto at = begin_record(w, MsgType::kSubmit);
  w.put(task);
  w.put(t.func_id);
  w.put<std::int32_t>(t.pin);
  w.put<std::int32_t>(t.max_retries);
  w.put_bytes(t.name);
  w.put_bytes(t.args);
  w.put(t.parent);
  end_record(w, at);
}

void encode_id(Writer& w, MsgType type, ObjectId id) {
  const auto at = begin_record(w, type);
  w.put(id);
  end_record(w, at);
}

void encode_object(Writer& w, ObjectId id, const ObjectData& d) {
  const auto at = begin_record(w, MsgType::kObject);
  w.put(id);
  encode_outcome(w, d);
  end_record(w, at);
}

void encode_put(Writer& w, ObjectId id, const ObjectData& d) {
  const auto at = begin_record(w, MsgType::kPut);
  w.put(id);
  encode_outcome(w, d);
  end_record(w, at);
}

void encode_shutdown(Writer& w, std::int32_t code) {
  const auto at = begin_record(w, MsgType::kShutdown);
  w.put(code);
  end_record(w, at);
}

void encode_actor_create(Writer& w, ObjectId actor, std::uint64_t cls, std::int32_t max_concurrency,
                         std::string_view args) {
  const auto at = begin_record(w, MsgType::kActorCreate);
  w.put(actor);
  w.put(cls);
  w.put(max_concurrency);
  w.put_bytes(args);
  end_record(w, at);
}

void encode_actor_call(Writer& w, ObjectId call, ObjectId actor, std::uint64_t method,
                       std::int32_t caller, ObjectId order_key, std::string_view args) {
  const auto at = begin_record(w, MsgType::kActorCall);
  w.put(call);
  w.put(actor);
  w.put(method);
  w.put(caller);
  w.put(order_key);
  w.put_bytes(args);
  end_record(w, at);
}

ActorCallView decode_actor_call(Reader& r) {
  ActorCallView v;
  v.call = r.get<ObjectId>();
  v.actor = r.get<ObjectId>();
  v.method = r.get<std::uint64_t>();
  v.caller = r.get<std::int32_t>();
  v.order_key = r.get<ObjectId>();
  v.args = r.get_bytes();
  return v;
}

void encode_call_result(Writer& w, ObjectId call, std::int32_t caller, const ObjectData& outcome) {
  const auto at = begin_record(w, MsgType::kCallResult);
  w.put(call);
  w.put(caller);
  encode_outcome(w, outcome);
  end_record(w, at);
}

void encode_name_request(Writer& w, ObjectId reply, std::uint8_t op, std::string_view name,
                         const ActorRef& ref) {
  const auto at = begin_record(w, MsgType::kNameRequest);
  w.put(reply);
  w.put(op);
  w.put_bytes(name);
  w.put(ref.actor);
  w.put(ref.rank);
  w.put(ref.class_id);
  end_record(w, at);
}

ExecuteView decode_execute(Reader& r) {
  ExecuteView v;
  v.task = r.get<ObjectId>();
  v.func = r.get<std::uint64_t>();
  v.attempt = r.get<std::uint32_t>();
  v.name = r.get_bytes();
  v.args = r.get_bytes();
  v.parent = r.get<ObjectId>();
  return v;
}

SubmitView decode_submit(Reader& r) {
  SubmitView v;
  v.task = r.get<ObjectId>();
  v.func = r.get<std::uint64_t>();
  v.pin = r.get<std::int32_t>();
  v.retries = r.get<std::int32_t>();
  v.name = r.get_bytes();
  v.args = r.get_bytes();
  v.parent = r.get<ObjectId>();
  return v;
}

}  // namespace mpiray::detail
