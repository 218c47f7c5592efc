#include "actors/actor_manager.hpp"

#include <algorithm>

#include "mpiray/detail/registry.hpp"
#include "runtime/error_info.hpp"

namespace mpiray::detail {

void ActorManager::create(ObjectId actor, std::uint64_t class_id, int max_concurrency,
                          std::string args) {
  std::lock_guard<std::mutex> lk(mu_);
  Instance& inst = actors_[actor];
  inst.created = true;
  inst.class_id = class_id;
  inst.max_concurrency = max_concurrency < 1 ? 1 : max_concurrency;
  inst.ctor_args = std::move(args);
  dirty_.insert(actor);
  has_dirty_.store(true, std::memory_order_release);
}

void ActorManager::call(ObjectId actor, ActorCall&& c) {
  std::lock_guard<std::mutex> lk(mu_);
  actors_[actor].queue.push_back(std::move(c));
  dirty_.insert(actor);
  has_dirty_.store(true, std::memory_order_release);
}

void ActorManager::kill(ObjectId actor) {
  std::lock_guard<std::mutex> lk(mu_);
  Instance& inst = actors_[actor];
  inst.dead = true;
  dirty_.insert(actor);
  has_dirty_.store(true, std::memory_order_release);
}

ObjectPtr ActorManager::dead_error(ObjectId actor, const Instance& inst, const ActorCall& c) const {
  const MethodInfo* m = find_method(c.method);
  const std::string fn = m ? m->name : "<actor method>";
  auto d = std::make_shared<ObjectData>();
  if (inst.creation_error) {
    d->error = make_error_info(fn, rank_, "mpiray::ActorCreationError",
                               "the actor's constructor failed: " + inst.creation_error->type +
                                   ": " + inst.creation_error->message);
  } else {
    d->error = make_error_info(fn, rank_, "mpiray::ActorDiedError",
                               "actor " + std::to_string(actor) +
                                   " was killed before this call could run");
  }
  return d;
}

bool ActorManager::resolve(ActorCall& c, ObjectPtr* error,
                           const std::function<void(ObjectId)>& request) {
  Reader r(c.args);
  const auto n = r.get<std::uint32_t>();
  bool has_refs = false;
  bool missing = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (r.get<ArgKind>() == ArgKind::kRef) {
      has_refs = true;
      const ObjectId id = r.get<ObjectId>();
      ObjectPtr d = table_.try_get(id);
      if (!d) {
        if (std::find(c.held.begin(), c.held.end(), id) == c.held.end()) {
          table_.add_ref(id, /*create=*/true);  // keep the value when it arrives
          c.held.push_back(id);
          request(id);
        }
        missing = true;
      } else if (d->failed()) {
        *error = d;
        return false;
      }
    } else {
      r.get_bytes();
    }
  }
  if (missing) return false;
  if (has_refs) {
    Writer w(c.args.size() + 64);
    Reader in(c.args);
    in.get<std::uint32_t>();
    w.put(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      w.put(ArgKind::kValue);
      if (in.get<ArgKind>() == ArgKind::kRef) {
        w.put_bytes(table_.try_get(in.get<ObjectId>())->bytes);
      } else {
        w.put_bytes(in.get_bytes());
      }
    }
    c.args.assign(w.data(), w.size());
  }
  drop_held(c);
  return true;
}

void ActorManager::drop_held(ActorCall& c) {
  for (ObjectId id : c.held) table_.release(id);
  c.held.clear();
}

bool ActorManager::take_runnable(ObjectId actor, Instance& inst, Job& j, std::vector<Failed>& failed,
                                 const std::function<void(ObjectId)>& request) {
  // In arrival order, skipping callers whose earlier call waits for an argument.
  std::vector<ObjectId> waiting_callers;
  for (auto it = inst.queue.begin(); it != inst.queue.end();) {
    ActorCall& c = *it;
    if (!waiting_callers.empty() &&
        std::find(waiting_callers.begin(), waiting_callers.end(), c.order_key) !=
            waiting_callers.end()) {
      ++it;
      continue;
    }
    ObjectPtr err;
    if (!resolve(c, &err, request)) {
      if (!err) {  // an argument is on its way; this caller's later calls wait behind it
        waiting_callers.push_back(c.order_key);
        ++it;
        continue;
      }
      drop_held(c);
      failed.push_back({c.id, c.caller, err});
      it = inst.queue.erase(it);
      continue;
    }
    j.kind = JobKind::kActorCall;
    j.actor = actor;
    j.task = c.id;
    j.func = c.method;
    j.caller = c.caller;
    j.args = std::move(c.args);
    inst.queue.erase(it);
    return true;
  }
  return false;
}

bool ActorManager::next(Job& job, std::vector<Failed>& failed,
                        const std::function<void(ObjectId)>& request) {
  std::lock_guard<std::mutex> lk(mu_);
  Instance& inst = actors_[job.actor];
  if (!inst.dead && !inst.creation_error && take_runnable(job.actor, inst, job, failed, request))
    return true;
  --inst.running;
  dirty_.insert(job.actor);
  has_dirty_.store(true, std::memory_order_release);
  return false;
}

void ActorManager::finish(ObjectId actor) {
  std::lock_guard<std::mutex> lk(mu_);
  --actors_[actor].running;
  dirty_.insert(actor);
  has_dirty_.store(true, std::memory_order_release);
}

bool ActorManager::pump(std::vector<Job>& jobs, std::vector<Failed>& failed,
                        const std::function<void(ObjectId)>& request) {
  if (!has_dirty_.load(std::memory_order_acquire)) return false;  // no lock when nothing changed
  std::lock_guard<std::mutex> lk(mu_);
  if (dirty_.empty()) {
    has_dirty_.store(false, std::memory_order_release);
    return false;
  }
  bool did = false;
  std::vector<ObjectId> still_dirty;
  for (ObjectId actor : dirty_) {
    auto it = actors_.find(actor);
    if (it == actors_.end()) continue;
    Instance& inst = it->second;
    if (inst.dead || inst.creation_error) {
      for (ActorCall& c : inst.queue) {
        drop_held(c);
        failed.push_back({c.id, c.caller, dead_error(actor, inst, c)});
      }
      did = did || !inst.queue.empty();
      inst.queue.clear();
      if (inst.dead && inst.running == 0) inst.object.reset();
      continue;
    }
    if (!inst.created) continue;  // calls wait for the create record
    if (!inst.ready) {
      if (!inst.constructing) {
        inst.constructing = true;
        Job j;
        j.kind = JobKind::kActorCreate;
        j.actor = actor;
        j.func = inst.class_id;
        j.args = inst.ctor_args;
        jobs.push_back(std::move(j));
        did = true;
      }
      continue;
    }
    while (inst.running < inst.max_concurrency) {
      Job j;
      if (!take_runnable(actor, inst, j, failed, request)) break;
      jobs.push_back(std::move(j));
      ++inst.running;
      did = true;
    }
    did = did || !failed.empty();
    if (!inst.queue.empty()) still_dirty.push_back(actor);
  }
  dirty_.clear();
  dirty_.insert(still_dirty.begin(), still_dirty.end());
  has_dirty_.store(!dirty_.empty(), std::memory_order_release);
  return did;
}

std::shared_ptr<const ErrorInfo> ActorManager::run(Job& job, Writer& out) {
  if (job.kind == JobKind::kActorCreate) {
    const ActorClassInfo* cls = find_actor_class(job.func);
    std::shared_ptr<void> obj;
    std::shared_ptr<const ErrorInfo> err;
    if (!cls) {
      err = make_error_info("<actor class>", rank_, "mpiray::RegistrationError",
                            "actor class not registered on this rank; run the same binary everywhere");
    } else {
      try {
        Reader in(job.args);
        obj = cls->construct(in);
      } catch (...) {
        err = current_exception_info(cls->name, rank_);
      }
    }
    std::lock_guard<std::mutex> lk(mu_);
    Instance& inst = actors_[job.actor];
    inst.constructing = false;
    if (err) {
      inst.creation_error = err;
    } else {
      inst.object = std::move(obj);
      inst.ready = true;
    }
    dirty_.insert(job.actor);
  has_dirty_.store(true, std::memory_order_release);
    return nullptr;
  }
  std::shared_ptr<void> obj;
  {
    std::lock_guard<std::mutex> lk(mu_);
    obj = actors_[job.actor].object;
  }
  const MethodInfo* m = find_method(job.func);
  std::shared_ptr<const ErrorInfo> err;
  if (!m) {
    err = make_error_info("<method>", rank_, "mpiray::RegistrationError",
                          "actor method not registered on this rank");
  } else if (!obj) {
    err = make_error_info(m->name, rank_, "mpiray::ActorDiedError", "the actor is gone");
  } else {
    try {
      Reader in(job.args);
      m->invoke(obj.get(), in, out);
    } catch (...) {
      err = current_exception_info(m->name, rank_);  // the actor keeps its state and goes on
    }
  }
  return err;  // the slot stays taken: the caller continues with next() or ends with finish()
}

void ActorManager::clear() {
  std::unordered_map<ObjectId, Instance> doomed;
  {
    std::lock_guard<std::mutex> lk(mu_);
    doomed.swap(actors_);
    dirty_.clear();
  }
  // Destructors of user classes run outside the lock.
}

std::size_t ActorManager::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return actors_.size();
}

}  // namespace mpiray::detail
