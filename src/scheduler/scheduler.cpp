#include "scheduler/scheduler.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/registry.hpp"

namespace mpiray::detail {
namespace {

// Calls fn(kind, value_bytes, ref_id) for every encoded argument.
template <class Fn>
void for_each_arg(std::string_view args, Fn&& fn) {
  Reader r(args);
  const auto n = r.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = r.get<ArgKind>();
    if (kind == ArgKind::kRef) {
      fn(kind, std::string_view{}, r.get<ObjectId>());
    } else {
      fn(kind, r.get_bytes(), ObjectId{0});
    }
  }
}

int cap_for(int threads, double avg_ns) {
  const double per_thread = static_cast<double>(Scheduler::kQueuedWorkNs) / std::max(avg_ns, 1.0);
  const double clamped =
      std::clamp(per_thread, double(Scheduler::kMinPerThread), double(Scheduler::kMaxPerThread));
  return threads * static_cast<int>(clamped);
}

}  // namespace

Scheduler::Scheduler(ObjectTable& table, std::vector<int> threads_per_rank,
                     std::size_t inline_limit)
    : table_(table), inline_limit_(inline_limit) {
  ranks_.resize(threads_per_rank.size());
  for (std::size_t r = 0; r < threads_per_rank.size(); ++r) {
    ranks_[r].threads = threads_per_rank[r];
    if (threads_per_rank[r] > 0) {
      executors_.push_back(static_cast<int>(r));
      ranks_[r].cap = cap_for(ranks_[r].threads, ranks_[r].avg_ns);
    }
  }
  for (int n : threads_per_rank) total_threads_ += std::max(n, 0);
  total_threads_ = std::max(total_threads_, 1);
}

ObjectPtr Scheduler::make_error(const TaskRecord& t, std::string type, std::string message) const {
  auto e = std::make_shared<ErrorInfo>();
  const FunctionInfo* fn = find_function(t.func_id);
  e->function = fn ? fn->name : ("<unknown function " + std::to_string(t.func_id) + ">");
  e->rank = 0;
  e->type = std::move(type);
  e->message = std::move(message);
  auto d = std::make_shared<ObjectData>();
  d->error = std::move(e);
  return d;
}

void Scheduler::submit(std::unique_ptr<TaskRecord> owned) {
  TaskRecord* t = owned.get();
  tasks_.insert(std::move(owned));
  // The submitter held its arguments until now (its ObjectRefs may be gone already); from here
  // on the task's own references keep them.
  struct DropHolds {
    ObjectTable& table;
    IdList ids;
    ~DropHolds() { table.release_many(ids); }
  } drop{table_, std::move(t->submit_holds)};
  if (!find_function(t->func_id)) {
    finish(t,
           make_error(*t, "mpiray::RegistrationError",
                      "function id not registered on rank 0; do all ranks run the same binary?"));
    return;
  }
  ObjectPtr failed;
  std::string missing;
  std::vector<char>& made = made_;  // per dep: it exists already
  made.clear();
  t->deps.reserve(drop.ids.size());  // the submitter held one reference per ref argument
  // All looked up under one lock of the table: the driver thread submitting the next tasks
  // takes the same lock, and rank 0 has two threads on a core or less.
  IdList& refs = arg_ids_;
  refs.clear();
  for_each_arg(t->args, [&](ArgKind kind, std::string_view, ObjectId id) {
    if (kind == ArgKind::kRef) refs.push_back(id);
  });
  table_.try_get_many(refs, prefetched_, &known_);
  for (std::size_t i = 0; i < refs.size() && !failed && missing.empty(); ++i) {
    const ObjectId id = refs[i];
    const bool known = known_[i] != 0;
    const ObjectPtr& d = prefetched_[i];
    if (!known && (id >> kOwnerShift) != 0) {
      // Made on a worker (e.g. an actor call's result): its record may still be on the way.
      table_.create_pending(id, 0);
      t->deps.push_back(id);
      made.push_back(0);
    } else if (!known) {
      missing = std::to_string(id);
    } else if (d && d->failed()) {
      failed = d;
    } else {
      t->deps.push_back(id);
      made.push_back(d ? 1 : 0);
    }
  }
  prefetched_.clear();  // holds no object alive past this call
  if (!missing.empty()) {
    t->deps.clear();
    finish(t, make_error(*t, "mpiray::ObjectError",
                         "argument object " + missing +
                             " is unknown or already freed; keep an ObjectRef to it until the "
                             "task is submitted"));
    return;
  }
  if (failed) {
    t->deps.clear();
    finish(t, failed);  // dependents fail with the producer's error, without running
    return;
  }
  // The task holds a reference to each argument until it is resolved. The submitter took
  // exactly those (one per ref argument, in order) when it submitted: the task adopts them
  // rather than adding its own and dropping the submitter's (6 fewer table operations for a
  // 3-argument task, on rank 0's per-task path).
  if (drop.ids == t->deps) {
    drop.ids.clear();
  } else {
    for (ObjectId dep : t->deps) table_.add_ref(dep, false);
  }
  for (std::size_t i = 0; i < t->deps.size(); ++i) {
    if (!made[i]) {
      ++t->unresolved;
      auto& waiters = waiting_on_.get(t->deps[i]);
      waiters.push_back(t->id);
      if (predispatch_on_) {
        const TaskRecord* p = tasks_.find(t->deps[i]);
        if (p && !p->sent_once) ++t->unsent_producers;
      }
    }
  }
  if (t->unresolved == 0) {
    resolve_args(t);
    make_ready(t);
  } else if (predispatch_on_ && t->unsent_producers == 0) {
    check_.push_back(t->id);  // its missing arguments may all be under way already
  }
}

void Scheduler::make_ready(TaskRecord* t) {
  ++queued_;
  high_water_ = std::max(high_water_, queued_);
  if (t->pin >= 0) {
    ranks_.at(t->pin).pinned.push_back(t);
  } else if (t->preferred >= 0 && static_cast<std::size_t>(t->preferred) < ranks_.size() &&
             ranks_[t->preferred].threads > 0) {
    local_ready_.push_back(t);
  } else if (t->nested) {
    urgent_.push_back(t);
  } else {
    ready_.push_back(t);
  }
}

void Scheduler::put_resolved(Writer& w, ObjectId id, const ObjectPtr& d, TaskRecord* t,
                             std::uint64_t* largest) {
  if (d->local() && d->bytes.size() <= inline_limit_) {
    w.put(ArgKind::kValue);  // small: travels inside the task
    w.put_bytes(d->bytes);
    return;
  }
  // Large or held elsewhere: the executor fetches it (one-sided) from the holder.
  // Rank 0 may hold a copy too, but the rank that made it is an executor: prefer that one.
  const int origin = table_.origin(id);
  const int holder = !d->local() ? d->owner : (origin > 0 ? origin : 0);
  const std::uint64_t size = d->size ? d->size : d->bytes.size();
  w.put(ArgKind::kRemote);
  w.put(id);
  w.put<std::int32_t>(holder);
  w.put<std::uint64_t>(size);
  t->remote_deps.push_back(id);
  table_.add_ref(id, false);  // kept until the task finishes: the executor reads it
  if (size > *largest) {
    *largest = size;
    t->preferred = holder;
  }
}

template <class OnMissing>
void Scheduler::rewrite_args(TaskRecord* t, OnMissing&& on_missing) {
  Writer& w = rewrite_buf_;  // reused: its capacity stays
  w.clear();
  Reader r(t->args);
  const auto n = r.get<std::uint32_t>();
  w.put(n);
  std::uint64_t largest = 0;
  // The ref arguments are t->deps, in order: look them all up under one lock of the table.
  table_.try_get_many(t->deps, prefetched_);
  std::size_t next = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = r.get<ArgKind>();
    if (kind != ArgKind::kRef) {
      copy_encoded_arg(r, kind, w);
      continue;
    }
    const ObjectId id = r.get<ObjectId>();
    ObjectPtr d = next < t->deps.size() && t->deps[next] == id ? std::move(prefetched_[next++])
                                                               : table_.try_get(id);
    if (d) {
      put_resolved(w, id, d, t, &largest);
    } else {
      on_missing(w, id);
    }
  }
  prefetched_.clear();  // holds no object alive past this task's rewrite
  t->args.assign(w.data(), w.size());
  if (w.bytes().capacity() > (1u << 20)) std::vector<char>().swap(w.bytes());  // big args: let go
}

void Scheduler::resolve_args(TaskRecord* t) {
  if (t->deps.empty()) return;
  // Every argument exists by now (the task was released because they do).
  rewrite_args(t, [](Writer& w, ObjectId id) {
    w.put(ArgKind::kRef);
    w.put(id);
  });
  release_deps(t);
}

void Scheduler::prepare_predispatch(TaskRecord* t, int rank) {
  rewrite_args(t, [&](Writer& w, ObjectId id) {
    w.put(ArgKind::kRef);  // the executor waits for it
    w.put(id);
    TaskRecord* producer = tasks_.find(id);  // a missing argument: its producer is in flight
    if (!producer) throw std::logic_error("mpiray: a task sent ahead waits for a non-task object");
    TaskRecord& p = *producer;
    if (std::find(p.consumers.begin(), p.consumers.end(), rank) != p.consumers.end()) return;
    p.consumers.push_back(rank);
    if (p.running_on != rank) {
      p.push_asked.push_back(rank);
      dep_messages_.push_back({DepMessage::kPushTo, p.running_on, id, rank, nullptr});
    }
  });
  t->predispatched = true;
  // The deps stay referenced until the task ends (complete_task releases them).
}

void Scheduler::release_deps(TaskRecord* t) {
  table_.release_many(t->deps);
  t->deps.clear();
}

void Scheduler::on_result(int rank, ObjectId id, std::uint32_t exec_ns, ObjectPtr outcome,
                          const std::vector<int>& served) {
  RankState& r = ranks_.at(rank);
  --r.in_flight;
  // A rank's first result replaces the 1 ms guess instead of moving it 10%: from the guess, the
  // cap stayed at its minimum for the first dozens of short tasks, and ready tasks waited on rank
  // 0 for room while the workers idled with tasks sent ahead that needed them (a stencil's first
  // row of 4.5 us tasks went out over 0.4-0.6 ms, two tasks per round trip). The very first
  // result also stands for the ranks that have not reported yet: alone, it lifted one rank's cap
  // while the others' stayed full, and the waiting tasks all went there. A cap grows at most 4x
  // per result, so one short task (a warm-up) before long ones sends out a few more of them, not
  // hundreds that then wait on one rank while another is idle (2x: the first rows of a stencil
  // went out in patterns that placement then kept fragmented).
  const double ns = static_cast<double>(exec_ns);
  auto update_cap = [](RankState& s) { s.cap = std::min(cap_for(s.threads, s.avg_ns), 4 * s.cap); };
  if (!r.measured && std::none_of(executors_.begin(), executors_.end(),
                                  [&](int q) { return ranks_[q].measured; })) {
    for (int q : executors_) {
      if (q == rank) continue;
      ranks_[q].avg_ns = ns;
      update_cap(ranks_[q]);
    }
  }
  r.avg_ns = r.measured ? 0.9 * r.avg_ns + 0.1 * ns : ns;
  r.measured = true;
  update_cap(r);
  TaskRecord* t = tasks_.find(id);
  if (!t) return;
  // Its waiting tasks' records are read at the end (release_waiters), and are rarely in cache:
  // their loads start now, behind the work in between.
  if (const auto* w = waiting_on_.find(id))
    for (ObjectId wid : *w) __builtin_prefetch(tasks_.find(wid));
  if (t->predispatched && t->unresolved > 0) {
    // Done before rank 0 saw all its arguments made (they came from other ranks).
    t->unresolved = 0;
    --r.waiting;
  }
  t->running_on = -1;
  if (!t->consumers.empty()) {
    // Ranks waiting for this value that the executor did not serve get it from here; the others
    // may forget it. Either way it is the last word on `id` each of them gets.
    bool cancel = false;
    for (int c : t->consumers) {
      if (std::find(served.begin(), served.end(), c) != served.end()) {
        dep_messages_.push_back({DepMessage::kDone, c, id, -1, nullptr});
        continue;
      }
      if (!outcome->local() && !outcome->failed() && c != outcome->owner)
        table_.add_copy(id, c);  // it will fetch and cache a copy
      dep_messages_.push_back({DepMessage::kValue, c, id, -1, outcome});
      forwarded_.fetch_add(1, std::memory_order_relaxed);
      if (std::find(t->push_asked.begin(), t->push_asked.end(), c) != t->push_asked.end())
        cancel = true;
    }
    if (cancel) dep_messages_.push_back({DepMessage::kCancel, rank, id, -1, nullptr});
    t->consumers.clear();
    t->push_asked.clear();
  }
  if (t->predispatched && outcome->failed()) {
    // It may have failed because an argument did: then with that error, and never retried.
    for (ObjectId dep : t->deps) {
      ObjectPtr d = table_.try_get(dep);
      if (d && d->failed()) {
        finish(t, d);
        return;
      }
    }
  }
  if (outcome->failed() && t->retries_left > 0) {
    --t->retries_left;
    ++t->attempt;
    if (t->predispatched) {
      t->predispatched = false;
      // Its arguments were all made (it ran, or failed on one), but their results may not have
      // reached rank 0 yet: made on another rank, or queued behind this result (a dependent can
      // report before its producer with two task threads). It waits for them here like any
      // task, still listed under each; a failed one then fails it with that error, no retry.
      std::uint32_t missing = 0;
      for (ObjectId dep : t->deps)
        if (!table_.try_get(dep)) ++missing;
      if (missing > 0) {
        t->unresolved = missing;
        return;
      }
      resolve_args(t);
    }
    make_ready(t);
    return;
  }
  finish(t, std::move(outcome));
}

void Scheduler::on_blocked(int rank, int delta) {
  ranks_.at(rank).blocked += delta;
}

void Scheduler::finish(TaskRecord* t, ObjectPtr outcome) {
  // Borrows the kept work list (its capacity saves an allocation per task) and gives it back.
  std::vector<std::pair<ObjectId, ObjectPtr>> work;
  work.swap(work_);
  complete_task(t, std::move(outcome), work);
  release_waiters(work);
  work_.swap(work);
}

void Scheduler::on_object_ready(ObjectId id, ObjectPtr outcome) {
  std::vector<std::pair<ObjectId, ObjectPtr>> work{{id, std::move(outcome)}};
  release_waiters(work);
}

void Scheduler::complete_task(TaskRecord* t, ObjectPtr outcome,
                              std::vector<std::pair<ObjectId, ObjectPtr>>& work) {
  const ObjectId id = t->id;
  release_deps(t);
  for (ObjectId dep : t->remote_deps) table_.release(dep);
  t->remote_deps.clear();
  for (ObjectId ref : t->contained) table_.release(ref);
  t->contained.clear();
  table_.complete(id, outcome);
  completed_.push_back(id);
  retire(id);
  work.emplace_back(id, std::move(outcome));
}

void Scheduler::retire(ObjectId id) {
  std::unique_ptr<TaskRecord> t = tasks_.extract(id);
  if (!t || spares_.size() >= kMaxSpares) return;
  t->reset();
  spares_.push_back(std::move(t));
}

void TaskRecord::reset() {
  // Every field, as a new record has it. sizeof changes when a field is added: then add it here.
#if defined(__x86_64__) && defined(__GLIBCXX__)
  static_assert(sizeof(TaskRecord) == 352, "a field was added to TaskRecord: reset it here");
#endif
  id = 0;
  unresolved = 0;
  unsent_producers = 0;
  running_on = -1;
  pin = -1;
  retries_left = 0;
  attempt = 0;
  submitter = 0;
  preferred = -1;
  predispatched = false;
  held_back = false;
  sent_once = false;
  nested = false;
  func_id = 0;
  parent = 0;
  constexpr std::size_t kKeep = 4096;  // bytes of argument buffer kept for the next task
  if (args.capacity() > kKeep) {
    std::string().swap(args);
  } else {
    args.clear();
  }
  name.clear();
  if (name.capacity() > kKeep) std::string().swap(name);
  deps.clear();
  submit_holds.clear();
  contained.clear();
  remote_deps.clear();
  consumers.clear();
  push_asked.clear();
}

void Scheduler::release_waiters(std::vector<std::pair<ObjectId, ObjectPtr>>& work) {
  // A work list instead of recursion: a failure can cascade down a chain of any length.
  while (!work.empty()) {
    auto [id, out] = std::move(work.back());
    work.pop_back();
    const auto waiters = waiting_on_.take(id);  // none: an empty list
    // The waiting tasks' records are rarely in cache (a worker's task ran on this core since):
    // their loads start together here instead of one after another below (perf: the first
    // read of each record was 43% of this function; bench_scheduler 302 -> 291 ns per task,
    // bench_metg within the noise). Looked up again below: a failure may end one meanwhile.
    for (ObjectId wid : waiters) __builtin_prefetch(tasks_.find(wid));
    for (ObjectId wid : waiters) {
      TaskRecord* dependent = tasks_.find(wid);
      if (!dependent) continue;  // already failed through another argument
      if (dependent->predispatched) {
        // Its executor gets the value and reports; once all are made it is queued work there.
        if (dependent->unresolved > 0 && --dependent->unresolved == 0)
          --ranks_[dependent->running_on].waiting;
        continue;
      }
      if (out->failed()) {
        complete_task(dependent, out, work);  // fails with the producer's error, without running
      } else if (--dependent->unresolved == 0) {
        resolve_args(dependent);
        make_ready(dependent);
      }
    }
  }
}

}  // namespace mpiray::detail
