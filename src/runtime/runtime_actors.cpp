// Runtime, actor part: placement, names, calls straight to the actor's rank, and the pool
// threads that drain an actor's queue.

#include <iostream>

#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "runtime/error_info.hpp"
#include "runtime/runtime.hpp"

namespace mpiray::detail {

void Runtime::run_actor_job(Job& job, Writer& out) {
  if (job.kind == JobKind::kActorCreate) {
    actors_->run(job, out);
  } else {
    // Drain the actor's runnable calls on this thread, for a bounded time so other actors and
    // tasks on this rank get their turn.
    const auto request = [this](ObjectId id) { request_object(id); };
    std::vector<ActorManager::Failed> failed;
    const auto t0 = Clock::now();
    for (int n = 1;; ++n) {
      tl_current_job = job.task;
      const MethodInfo* m = find_method(job.func);
      const auto c0 = Clock::now();
      std::shared_ptr<const ErrorInfo> err;
      {
        TraceSpan span("actor", m ? m->name : std::string("<method>"), job.args.size());
        ContainedScope refs_in_result;  // refs the result contains live as long as the result
        err = actors_->run(job, out);
        std::vector<ObjectId> contained = refs_in_result.take();
        if (!contained.empty() && !err) {
          if (layout_.rank == 0) {
            table_.set_contained(job.task, contained);
          } else {
            hand_over_contained(job.task, 0, std::move(contained));  // before the result record
          }
        } else {
          for (ObjectId c : contained) release(c);
        }
      }
      stat_actor_calls_.fetch_add(1, std::memory_order_relaxed);
      stat_busy_ns_.fetch_add(
          static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - c0).count()),
          std::memory_order_relaxed);
      send_call_outcome(job.task, job.caller, err, out.view(), m ? m->result_tag : 0);
      out.clear();
      if ((n & 31) == 0) {
        try_progress();  // let results flow while a long queue drains
        if (Clock::now() - t0 > std::chrono::microseconds(500)) {
          actors_->finish(job.actor);
          break;
        }
      }
      if (!actors_->next(job, failed, request)) break;
    }
    for (auto& f : failed) send_call_outcome(f.id, f.caller, f.outcome->error, {}, 0);
  }
  // The actor's next call (or its first, after the constructor) can start now.
  try_progress();
  kick();
}

void Runtime::request_object(ObjectId id) {
  if (layout_.rank != 0 && table_.mark_requested(id))
    queue_record(0, [&](Writer& w) { encode_id(w, MsgType::kGetRequest, id); });
}

void Runtime::send_call_outcome(ObjectId call, int caller,
                                const std::shared_ptr<const ErrorInfo>& error,
                                std::string_view bytes, std::uint64_t type_tag) {
  ObjectData d;
  d.error = error;
  if (!error) {
    if (layout_.rank != 0 && bytes.size() > inline_limit_) {
      d = keep_local(call, copy_for_sharing(bytes), type_tag);  // large results stay with the actor
    } else {
      d.bytes.assign(bytes);
      d.size = bytes.size();
      d.type_tag = type_tag;
    }
  }
  // Rank 0 is the directory of every object; a worker caller also gets the value directly.
  queue_record(0, [&](Writer& w) { encode_call_result(w, call, caller, d); });
  if (caller != 0) queue_record(caller, [&](Writer& w) { encode_object(w, call, d); });
}

bool Runtime::pump_actors() {
  std::vector<Job> jobs;
  std::vector<ActorManager::Failed> failed;
  const bool did = actors_->pump(jobs, failed, [this](ObjectId id) { request_object(id); });
  for (auto& f : failed) send_call_outcome(f.id, f.caller, f.outcome->error, {}, 0);
  if (!jobs.empty()) pool_->push(std::move(jobs));
  return did;
}

void Runtime::release_call_holds(ObjectId call) {
  std::vector<ObjectId> holds;
  {
    std::lock_guard<std::mutex> lk(call_holds_mu_);
    if (call_holds_.empty()) return;
    auto it = call_holds_.find(call);
    if (it == call_holds_.end()) return;
    holds = std::move(it->second);
    call_holds_.erase(it);
  }
  for (ObjectId dep : holds) release(dep);
}

void Runtime::handle_call_result(ObjectId id, int caller, ObjectPtr outcome) {
  release_call_holds(id);  // a worker's holds may still be on their way (see the kContains case)
  if (caller != 0) {
    table_.add_ref(id, /*create=*/true);  // the calling worker's hold
    if (auto it = early_releases_.find(id); it != early_releases_.end()) {
      for (int i = 0; i < it->second; ++i) table_.release(id);
      early_releases_.erase(it);
    }
  } else {
    driver_calls_.fetch_sub(1, std::memory_order_acq_rel);
  }
  table_.complete(id, outcome);
  scheduler_->on_object_ready(id, outcome);
  if (auto it = remote_waiters_.find(id); it != remote_waiters_.end()) {
    for (int dest : it->second)
      queue_record(dest, [&](Writer& w) { encode_object(w, id, *outcome); });
    remote_waiters_.erase(it);
  }
}

void Runtime::handle_name_request(int source, Reader& r) {
  const auto reply = r.get<ObjectId>();
  const auto op = r.get<std::uint8_t>();
  const std::string name(r.get_bytes());
  ActorRef ref;
  ref.actor = r.get<ObjectId>();
  ref.rank = r.get<std::int32_t>();
  ref.class_id = r.get<std::uint64_t>();
  ObjectData d;
  {
    std::lock_guard<std::mutex> lk(names_mu_);
    if (op == 1) {
      if (names_.count(name)) {
        d.error = make_error_info("mpiray::actor", 0, "mpiray::ConfigError",
                                  "an actor named '" + name + "' already exists");
      } else {
        names_[name] = ref;
      }
    } else {
      auto it = names_.find(name);
      d.bytes = to_bytes(it == names_.end() ? ActorRef{} : it->second);
    }
  }
  queue_record(source, [&](Writer& w) { encode_object(w, reply, d); });
}

ObjectPtr Runtime::name_round_trip(std::uint8_t op, const std::string& name, const ActorRef& ref) {
  const ObjectId reply = new_id();
  table_.create_pending(reply, 1);
  table_.mark_requested(reply);
  queue_record(0, [&](Writer& w) { encode_name_request(w, reply, op, name, ref); });
  kick();
  ObjectPtr d = get(reply, std::nullopt);
  release(reply);
  return d;
}

ActorRef Runtime::create_actor(ActorSpec&& spec) {
  if (stopping_) throw RuntimeError("mpiray: cannot create actors: the runtime is shutting down");
  ActorRef ref;
  ref.actor = new_id();
  ref.class_id = spec.class_id;
  if (spec.pin >= 0) {
    check_pin(spec.pin);
    ref.rank = spec.pin;
  } else if (layout_.size == 1) {
    ref.rank = 0;
  } else if (layout_.rank == 0) {
    std::lock_guard<std::mutex> lk(names_mu_);
    int best = 1;
    for (int r = 2; r < layout_.size; ++r)
      if (actors_per_rank_[r] < actors_per_rank_[best]) best = r;
    ref.rank = best;
  } else {
    // A worker spreads its actors by id; rank 0's placement counts do not see them.
    ref.rank = 1 + static_cast<int>((ref.actor * 0x9E3779B97F4A7C15ull >> 33) % (layout_.size - 1));
  }
  if (!spec.name.empty()) {
    if (layout_.rank == 0) {
      std::lock_guard<std::mutex> lk(names_mu_);
      if (names_.count(spec.name))
        throw ConfigError("mpiray: an actor named '" + spec.name +
                          "' already exists; pick another name or use get_actor<T>(\"" + spec.name +
                          "\")");
      names_[spec.name] = ref;
    } else {
      ObjectPtr d = name_round_trip(1, spec.name, ref);
      if (d->failed())
        throw ConfigError("mpiray: " + d->error->message + "; pick another name or use get_actor");
    }
  }
  if (layout_.rank == 0) {
    std::lock_guard<std::mutex> lk(names_mu_);
    ++actors_per_rank_[ref.rank];
    if (!spec.contained.empty()) {
      auto& h = actor_holds_[ref.actor];
      h.insert(h.end(), spec.contained.begin(), spec.contained.end());
    }
  } else {
    hand_over_contained(ref.actor, 3, std::move(spec.contained));
  }
  queue_record(ref.rank, [&](Writer& w) {
    encode_actor_create(w, ref.actor, spec.class_id, spec.max_concurrency, spec.args);
  });
  kick();
  return ref;
}

ObjectId Runtime::call_actor(const ActorRef& actor, std::uint64_t method, std::string args,
                             std::vector<ObjectId> contained) {
  if (stopping_) throw RuntimeError("mpiray: cannot call actors: the runtime is shutting down");
  if (actor.rank < 0 || actor.rank >= layout_.size)
    throw ActorNotFoundError("mpiray: actor handle points at rank " + std::to_string(actor.rank) +
                             ", which is not in this job");
  const ObjectId id = new_id();
  // Order is kept per caller: the task making the call, or (outside tasks) the calling thread.
  const ObjectId order_key = tl_current_job != 0
                                 ? tl_current_job
                                 : (static_cast<ObjectId>(layout_.rank) << kOwnerShift) |
                                       (std::hash<std::thread::id>{}(std::this_thread::get_id()) &
                                        ((ObjectId(1) << kOwnerShift) - 1));
  if (layout_.rank == 0) {
    table_.create_pending(id, 1);
    driver_calls_.fetch_add(1, std::memory_order_acq_rel);
  } else {
    table_.create_pending(id, 1, /*owner_counts=*/true);
    table_.mark_requested(id);  // the actor's rank sends the value straight here
  }
  // The call holds its ref arguments and the refs inside its arguments until its result
  // exists (the actor's rank resolves and may keep them). Rank 0 keeps those holds, also for a
  // worker's call: it sees the actor's own references (kAddRef) before the call's result, from
  // the same sender, so releasing there never frees what the actor kept.
  std::vector<ObjectId> holds = arg_refs(args);
  for (ObjectId dep : holds) table_.add_ref(dep, layout_.rank != 0);
  holds.insert(holds.end(), contained.begin(), contained.end());  // already hold a reference
  if (!holds.empty()) {
    if (layout_.rank == 0) {
      std::lock_guard<std::mutex> lk(call_holds_mu_);
      auto& h = call_holds_[id];
      h.insert(h.end(), holds.begin(), holds.end());
    } else {
      hand_over_contained(id, 2, std::move(holds));
    }
  }
  queue_record(actor.rank, [&](Writer& w) {
    encode_actor_call(w, id, actor.actor, method, layout_.rank, order_key, args);
  });
  kick();
  return id;
}

void Runtime::kill_actor(const ActorRef& actor) {
  std::vector<ObjectId> holds;  // refs in its constructor arguments (rank 0 keeps them)
  if (layout_.rank == 0) {
    std::lock_guard<std::mutex> lk(names_mu_);
    for (auto it = names_.begin(); it != names_.end();)
      it = it->second.actor == actor.actor ? names_.erase(it) : std::next(it);
    if (actor.rank >= 0 && actor.rank < layout_.size && actors_per_rank_[actor.rank] > 0)
      --actors_per_rank_[actor.rank];
    if (auto it = actor_holds_.find(actor.actor); it != actor_holds_.end()) {
      holds = std::move(it->second);
      actor_holds_.erase(it);
    }
  }
  queue_record(actor.rank, [&](Writer& w) { encode_id(w, MsgType::kActorKill, actor.actor); });
  // Refs the actor itself kept are counted on their own (kAddRef from its rank), so these
  // releases only end what the arguments held.
  for (ObjectId id : holds) release(id);
  kick();
}

ActorRef Runtime::find_named_actor(const std::string& name) {
  if (layout_.rank == 0) {
    std::lock_guard<std::mutex> lk(names_mu_);
    auto it = names_.find(name);
    return it == names_.end() ? ActorRef{} : it->second;
  }
  ObjectPtr d = name_round_trip(2, name, ActorRef{});
  return from_bytes<ActorRef>(d->bytes);
}

}  // namespace mpiray::detail
