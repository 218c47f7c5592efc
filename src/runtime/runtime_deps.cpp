// Runtime, worker-side release of dependents: tasks rank 0 sent before their arguments existed
// wait here for them, so a chain of tasks on one rank runs without a round trip through rank 0
// per link, and values made on a neighbouring rank are pushed straight to it.

#include <algorithm>

#include "mpiray/detail/registry.hpp"
#include "runtime/runtime.hpp"

namespace mpiray::detail {

void Runtime::take_dep_job(Job& job, const IdList& refs, std::vector<Job>& ready) {
  const ObjectId task = job.task;
  std::unique_ptr<DepJob>& slot = dep_jobs_.get(task);
  if (!slot) {
    if (dep_spares_.empty()) {
      slot = std::make_unique<DepJob>();
    } else {
      slot = std::move(dep_spares_.back());
      dep_spares_.pop_back();
    }
  }
  DepJob& dj = *slot;  // stays put: waiting lists point at it
  dj.job = std::move(job);
  for (ObjectId id : refs) {
    if (const ObjectPtr* v = dep_values_.find(id)) {
      dj.values.emplace_back(id, *v);
      continue;
    }
    DepWaiters& w = dep_waiters_.get(id);
    if (std::find(w.begin(), w.end(), &dj) == w.end()) {
      w.push_back(&dj);
      ++dj.missing;
    }
  }
  if (dj.missing == 0) {
    finish_dep_job(dj, ready);
    free_dep_job(task);
  }
  update_dep_active();
}

void Runtime::free_dep_job(ObjectId task) {
  std::unique_ptr<DepJob> dj = dep_jobs_.take(task);
  if (!dj) return;
  constexpr std::size_t kMaxSpares = 1024;
  if (dep_spares_.size() >= kMaxSpares) return;
  // Its job was moved on (finish_dep_job); what a move leaves is cleared here.
  dj->values.clear();
  dj->missing = 0;
  dj->job.arg_error.reset();
  dep_spares_.push_back(std::move(dj));
}

void Runtime::deliver_locked(ObjectId id, const ObjectPtr& outcome, std::vector<Job>& ready) {
  DepWaiters* w = dep_waiters_.find(id);
  if (!w) return;
  DepWaiters waiters = std::move(*w);
  dep_waiters_.erase(id);
  for (DepJob* dj : waiters) {
    dj->values.emplace_back(id, outcome);
    if (--dj->missing > 0) continue;
    const ObjectId task = dj->job.task;
    finish_dep_job(*dj, ready);
    free_dep_job(task);  // dj is reused from here on
  }
}

void Runtime::finish_dep_job(DepJob& dj, std::vector<Job>& ready) {
  Job& job = dj.job;
  Writer& w = dep_rewrite_;
  w.clear();
  Reader r(job.args);
  const auto n = r.get<std::uint32_t>();
  w.put(n);
  bool fetch = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = r.get<ArgKind>();
    if (kind != ArgKind::kRef) {
      fetch = fetch || kind == ArgKind::kRemote;
      copy_encoded_arg(r, kind, w);
      continue;
    }
    const ObjectId id = r.get<ObjectId>();
    auto v = std::find_if(dj.values.begin(), dj.values.end(),
                          [&](const auto& x) { return x.first == id; });
    const ObjectPtr& d = v->second;
    if (d->failed()) {
      job.arg_error = d->error;  // fails with the producer's error, without running
      w.put(ArgKind::kValue);
      w.put_bytes(std::string_view{});
    } else if (d->local()) {
      w.put(ArgKind::kValue);
      w.put_bytes(d->bytes);
    } else {
      // Large: read from its holder (rank 0 counted this rank as a copy holder, or it is here).
      w.put(ArgKind::kRemote);
      w.put(id);
      w.put<std::int32_t>(d->owner);
      w.put<std::uint64_t>(d->size);
      fetch = true;
    }
  }
  job.args.assign(w.data(), w.size());
  if (fetch && !job.arg_error) {
    dep_fetch_jobs_.push_back(std::move(job));
    dep_fetch_pending_.store(true, std::memory_order_release);
  } else {
    ready.push_back(std::move(job));
  }
}

void Runtime::release_dependents(ObjectId id, const ObjectPtr& outcome, std::vector<int>& served) {
  served.clear();
  if (!dep_active_.load(std::memory_order_acquire)) return;
  // Kept per thread: its capacity is reused by every task this thread runs.
  thread_local std::vector<Job> ready;
  ready.clear();
  {
    std::lock_guard<std::mutex> lk(dep_mu_);
    if (dep_waiters_.find(id)) {
      served.push_back(layout_.rank);
      stat_served_here_.fetch_add(1, std::memory_order_relaxed);
      dep_values_.get(id) = outcome;  // for tasks still on their way; rank 0's kDepDone drops it
      deliver_locked(id, outcome, ready);
    }
    if (auto* p = push_to_.find(id)) {
      // Large values stay here (rank 0 tells the consumer where); small ones travel now.
      if (outcome->local()) {
        for (int dest : *p) {
          queue_record(dest, [&](Writer& w) { encode_dep_value(w, id, false, *outcome); });
          served.push_back(dest);
          stat_pushed_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      push_to_.erase(id);
    }
    update_dep_active();
  }
  if (!ready.empty()) pool_->push(std::move(ready));
  ready.clear();
}

void Runtime::handle_push_to(Reader& r) {
  const auto id = r.get<ObjectId>();
  const auto consumer = r.get<std::int32_t>();
  // If the value was made already, rank 0 sees no push in the result and sends it itself, then
  // cancels this request (kDepDone).
  push_to_.get(id).push_back(consumer);
  update_dep_active();
}

void Runtime::handle_dep_value(Reader& r, std::vector<Job>& ready) {
  const auto id = r.get<ObjectId>();
  const bool final = r.get<std::uint8_t>() != 0;
  ObjectPtr outcome = decode_outcome(r);
  if (!final) {
    // Pushed by its producer. Rank 0's kDepDone may have overtaken it: then no task can still
    // come for it, and only the ones waiting get it.
    if (dep_forgotten_.erase(id) == 0) dep_values_.get(id) = outcome;
  }
  deliver_locked(id, outcome, ready);
  update_dep_active();
}

void Runtime::handle_dep_done(Reader& r) {
  const auto id = r.get<ObjectId>();
  const bool consumer = r.get<std::uint8_t>() != 0;
  if (!consumer) {
    push_to_.erase(id);  // the push request came after the value was made
  } else if (!dep_values_.erase(id) && dep_waiters_.find(id)) {
    dep_forgotten_.insert(id);  // the pushed value is still on its way
  }
  update_dep_active();
}

void Runtime::send_dep_messages() {
  std::vector<DepMessage>& msgs = dep_msgs_scratch_;
  scheduler_->take_dep_messages(msgs);
  if (msgs.empty()) return;
  {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    for (const DepMessage& m : msgs) {
      Writer& w = outbox_[m.dest];
      switch (m.kind) {
        case DepMessage::kPushTo:
          encode_push_to(w, m.id, m.consumer);
          break;
        case DepMessage::kValue:
          encode_dep_value(w, m.id, true, *m.outcome);
          break;
        case DepMessage::kDone:
          encode_dep_done(w, m.id, true);
          break;
        case DepMessage::kCancel:
          encode_dep_done(w, m.id, false);
          break;
      }
    }
  }
  // Drops the outcomes they hold now, outside the outbox lock: the last reference to a value
  // that holds ObjectRefs releases them, and a release may queue a record.
  msgs.clear();
  outbox_dirty_.store(true, std::memory_order_release);
}

bool Runtime::pump_dep_jobs() {
  if (!dep_fetch_pending_.load(std::memory_order_acquire)) return false;
  std::vector<Job> jobs;
  {
    std::lock_guard<std::mutex> lk(dep_mu_);
    jobs.swap(dep_fetch_jobs_);
    dep_fetch_pending_.store(false, std::memory_order_release);
  }
  std::vector<Job> ready;
  for (Job& j : jobs) {
    if (prepare_args(j)) {
      ready.push_back(std::move(j));
    } else {
      waiting_jobs_.push_back(std::move(j));  // runs once its fetched arguments are here
    }
  }
  if (!ready.empty()) pool_->push(std::move(ready));
  return !jobs.empty();
}

}  // namespace mpiray::detail
