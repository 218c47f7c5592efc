#include "object_store/object_table.hpp"

#include <algorithm>

namespace mpiray::detail {

void ObjectTable::create_pending(ObjectId id, int refs, bool owner_counts) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_[id];
  e.refs += refs;
  e.owner_counts = e.owner_counts || owner_counts;
}

void ObjectTable::account(const ObjectPtr& old_data, const ObjectPtr& new_data) {
  if (old_data && old_data->owner < 0) bytes_held_ -= old_data->bytes.size();
  if (new_data && new_data->owner < 0) bytes_held_ += new_data->bytes.size();
}

void ObjectTable::erase(std::unordered_map<ObjectId, Entry>::iterator it) {
  account(it->second.data, nullptr);
  if (free_hook_ && (it->second.data || it->second.origin >= 0 || !it->second.copies.empty()))
    free_hook_(it->first, it->second.data, it->second.origin, it->second.copies);
  map_.erase(it);
}

bool ObjectTable::complete(ObjectId id, ObjectPtr data) {
  bool wake = false;
  bool kept = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = map_.find(id);
    if (it != map_.end()) {
      Entry& e = it->second;
      if (data && data->owner >= 0 && e.origin < 0) e.origin = data->owner;
      // A location never replaces a value this rank already holds.
      if (!(data && data->owner >= 0 && e.data && e.data->owner < 0)) {
        account(e.data, data);
        e.data = std::move(data);
      }
      if (e.refs <= 0 && !e.pinned && !e.held) {
        erase(it);  // every handle was dropped while the task ran
      } else {
        kept = true;
      }
    }
    gen_.fetch_add(1, std::memory_order_acq_rel);
    wake = waiters_ > 0;
  }
  if (wake) cv_.notify_all();
  return kept;
}

ObjectPtr ObjectTable::try_get(ObjectId id, bool* known) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  if (known) *known = it != map_.end();
  return it == map_.end() ? nullptr : it->second.data;
}

bool ObjectTable::mark_requested(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_[id];
  if (e.requested || e.data) return false;
  e.requested = true;
  return true;
}

bool ObjectTable::add_ref(ObjectId id, bool create) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) {
    if (!create) return false;
    it = map_.emplace(id, Entry{}).first;
  }
  ++it->second.refs;
  return true;
}

ObjectTable::ReleaseResult ObjectTable::release(ObjectId id) {
  ReleaseResult r;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) return r;
  r.known = true;
  Entry& e = it->second;
  if (--e.refs > 0 || e.pinned) return r;
  r.notify_owner = e.owner_counts;
  e.owner_counts = false;  // rank 0 counted this rank once, so it is told once
  // A pending entry stays until its result arrives (complete() drops it then), so waiting
  // tasks and late results never meet a missing entry.
  if (e.data && !e.held) {
    erase(it);
    r.freed = true;
  }
  return r;
}

void ObjectTable::set_held(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  map_[id].held = true;
}

void ObjectTable::add_copy(ObjectId id, int rank) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) return;
  auto& c = it->second.copies;
  if (std::find(c.begin(), c.end(), rank) == c.end()) c.push_back(rank);
}

bool ObjectTable::free(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  if (it == map_.end()) return false;
  erase(it);
  return true;
}

bool ObjectTable::mark_fetching(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_[id];
  if (e.fetching) return false;
  e.fetching = true;
  return true;
}

int ObjectTable::origin(ObjectId id) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  return it == map_.end() ? -1 : it->second.origin;
}

std::uint64_t ObjectTable::bytes_held() const {
  std::lock_guard<std::mutex> lk(mu_);
  return bytes_held_;
}

void ObjectTable::pin(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(id);
  if (it != map_.end()) it->second.pinned = true;
}

std::size_t ObjectTable::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return map_.size();
}

void ObjectTable::wait_change(std::uint64_t seen, Clock::time_point until) {
  std::unique_lock<std::mutex> lk(mu_);
  ++waiters_;
  cv_.wait_until(lk, until, [&] { return gen_.load(std::memory_order_acquire) != seen; });
  --waiters_;
}

void ObjectTable::notify_all() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    gen_.fetch_add(1, std::memory_order_acq_rel);
  }
  cv_.notify_all();
}

}  // namespace mpiray::detail
