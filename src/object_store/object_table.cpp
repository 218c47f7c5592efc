#include "object_store/object_table.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "mpiray/errors.hpp"

namespace mpiray::detail {

void ObjectTable::create_pending(ObjectId id, int refs, bool owner_counts) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_.get(id);
  e.refs += refs;
  e.owner_counts = e.owner_counts || owner_counts;
}

void ObjectTable::account(const ObjectPtr& old_data, const ObjectPtr& new_data) {
  if (old_data && old_data->owner < 0) bytes_held_ -= old_data->bytes.size();
  if (new_data && new_data->owner < 0) bytes_held_ += new_data->bytes.size();
}

void ObjectTable::drain_contained() {
  if (!release_pending_.load(std::memory_order_acquire)) return;  // the common case: no lock
  for (;;) {
    std::lock_guard<std::mutex> lk(mu_);
    if (to_release_.empty()) {
      release_pending_.store(false, std::memory_order_release);
      return;
    }
    std::vector<ObjectId> ids;
    ids.swap(to_release_);
    for (ObjectId id : ids) release_locked(id);  // may queue more (values inside values)
  }
}

void ObjectTable::set_contained(ObjectId id, const std::vector<ObjectId>& ids) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& c = map_.get(id).contained;
  c.insert(c.end(), ids.begin(), ids.end());
}

bool ObjectTable::add_borrow(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_.get(id);
  ++e.refs;
  if (e.owner_counts) return false;
  e.owner_counts = true;
  return true;
}

void ObjectTable::erase(ObjectId id, Entry& e) {
  for (ObjectId c : e.contained) to_release_.push_back(c);
  if (!e.contained.empty()) release_pending_.store(true, std::memory_order_release);
  if (e.spilled) std::remove(e.spill_path.c_str());
  account(e.data, nullptr);
  if (free_hook_ && (e.data || e.origin >= 0 || !e.copies.empty()))
    free_hook_(id, e.data, e.origin, e.copies);
  map_.erase(id);
}

bool ObjectTable::complete(ObjectId id, ObjectPtr data) {
  bool wake = false;
  bool wake_bucket = false;
  bool kept = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (Entry* found = map_.find(id)) {
      Entry& e = *found;
      if (data && data->owner >= 0 && e.origin < 0) e.origin = data->owner;
      // A location never replaces a value this rank already holds.
      if (!(data && data->owner >= 0 && e.data && e.data->owner < 0)) {
        if (e.spilled) {
          std::remove(e.spill_path.c_str());
          e.spilled = false;
        }
        account(e.data, data);
        e.data = std::move(data);
        e.last_use = ++tick_;
        make_room(0, id);  // best effort: results must be stored; older values spill instead
      }
      if (e.refs <= 0 && !e.pinned && !e.held) {
        erase(id, e);  // every handle was dropped while the task ran
      } else {
        kept = true;
      }
    }
    gen_.fetch_add(1, std::memory_order_acq_rel);
    bucket_gen_[id % kBuckets].fetch_add(1, std::memory_order_acq_rel);
    wake = waiters_ > 0;
    wake_bucket = bucket_waiters_[id % kBuckets] > 0;
  }
  if (wake) cv_.notify_all();
  if (wake_bucket) bucket_cv_[id % kBuckets].notify_all();
  drain_contained();
  return kept;
}

ObjectPtr ObjectTable::try_get(ObjectId id, bool* known) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry* found = map_.find(id);
  if (known) *known = found != nullptr;
  if (!found) return nullptr;
  Entry& e = *found;
  e.last_use = ++tick_;
  if (e.spilled) restore(id, e);
  return e.data;
}

void ObjectTable::configure_store(std::uint64_t limit_bytes, std::string spill_dir) {
  std::lock_guard<std::mutex> lk(mu_);
  limit_ = limit_bytes;
  spill_dir_ = std::move(spill_dir);
}

std::uint64_t ObjectTable::spilled_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return spilled_;
}

void ObjectTable::drop_spill_files() {
  std::lock_guard<std::mutex> lk(mu_);
  map_.for_each([](ObjectId, Entry& e) {
    if (e.spilled) std::remove(e.spill_path.c_str());
  });
}

void ObjectTable::reserve(std::uint64_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  if (limit_ == 0 || bytes_held_ + n <= limit_) return;
  if (make_room(n, 0)) return;
  constexpr double kMiB = 1024.0 * 1024.0;
  char msg[512];
  std::snprintf(msg, sizeof msg,
                "mpiray: an object of %.1f MiB does not fit in this rank's object store: limit "
                "%.1f MiB, %.1f MiB held in memory and in use (nothing more can be spilled to "
                "disk). Raise MPIRAY_OBJECT_STORE_MB, or drop ObjectRefs you no longer need.",
                n / kMiB, limit_ / kMiB, bytes_held_ / kMiB);
  throw ObjectStoreFullError(msg);
}

bool ObjectTable::make_room(std::uint64_t need, ObjectId keep) {
  while (limit_ != 0 && bytes_held_ + need > limit_) {
    // Least recently used value that only the table holds (nobody is reading or sending it).
    ObjectId victim_id = 0;
    Entry* victim = nullptr;
    map_.for_each([&](ObjectId id, Entry& e) {
      if (id == keep || e.spilled || !e.data || !e.data->local() || e.data->failed() ||
          e.data->bytes.empty() || e.data.use_count() != 1)
        return;
      if (!victim || e.last_use < victim->last_use) {
        victim = &e;
        victim_id = id;
      }
    });
    if (!victim || !spill(victim_id, *victim)) return false;
  }
  return true;
}

bool ObjectTable::spill(ObjectId id, Entry& e) {
  if (spill_dir_.empty()) return false;
  ::mkdir(spill_dir_.c_str(), 0700);
  const std::string path = spill_dir_ + "/obj-" + std::to_string(id) + ".bin";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok =
      std::fwrite(e.data->bytes.data(), 1, e.data->bytes.size(), f) == e.data->bytes.size();
  if (std::fclose(f) != 0 || !ok) {
    std::remove(path.c_str());
    return false;
  }
  auto meta = std::make_shared<ObjectData>();  // everything but the bytes
  meta->size = e.data->bytes.size();
  meta->type_tag = e.data->type_tag;
  account(e.data, meta);
  e.data = std::move(meta);
  e.spilled = true;
  e.spill_path = path;
  ++spilled_;
  return true;
}

void ObjectTable::restore(ObjectId id, Entry& e) {
  make_room(e.data->size, id);  // best effort: the value comes back even if over the limit
  auto d = std::make_shared<ObjectData>();
  d->size = e.data->size;
  d->type_tag = e.data->type_tag;
  char* dst = nullptr;
  d->bytes = Blob::uninitialized(d->size, &dst);  // every byte comes from the file
  std::FILE* f = std::fopen(e.spill_path.c_str(), "rb");
  const bool ok = f && std::fread(dst, 1, d->size, f) == d->size;
  if (f) std::fclose(f);
  if (!ok)
    throw ObjectError("mpiray: object " + std::to_string(id) + " could not be read back from " +
                      e.spill_path + "; was the spill directory (MPIRAY_SPILL_DIR) cleaned?");
  std::remove(e.spill_path.c_str());
  e.spilled = false;
  e.spill_path.clear();
  account(e.data, d);
  e.data = std::move(d);
}

bool ObjectTable::mark_requested(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_.get(id);
  if (e.requested || e.data) return false;
  e.requested = true;
  return true;
}

bool ObjectTable::add_ref(ObjectId id, bool create) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry* e = create ? &map_.get(id) : map_.find(id);
  if (!e) return false;
  ++e->refs;
  return true;
}

void ObjectTable::add_refs_locked(const ObjectId* ids, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (Entry* e = map_.find(ids[i])) ++e->refs;
}

void ObjectTable::add_refs(const ObjectId* ids, std::size_t n) {
  if (n == 0) return;
  std::lock_guard<std::mutex> lk(mu_);
  add_refs_locked(ids, n);
}

void ObjectTable::create_pending_adding(ObjectId id, int refs, const ObjectId* args,
                                        std::size_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  map_.get(id).refs += refs;
  add_refs_locked(args, n);
}

ObjectTable::ReleaseResult ObjectTable::release(ObjectId id) {
  ReleaseResult r;
  {
    std::lock_guard<std::mutex> lk(mu_);
    r = release_locked(id);
  }
  drain_contained();
  return r;
}

void ObjectTable::release_many(const ObjectId* ids, std::size_t n) {
  if (n == 0) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::size_t i = 0; i < n; ++i) release_locked(ids[i]);
  }
  drain_contained();
}

void ObjectTable::try_get_many(const ObjectId* ids, std::size_t n, std::vector<ObjectPtr>& out,
                               std::vector<char>* known) {
  out.clear();
  out.reserve(n);
  if (known) known->assign(n, 1);
  std::lock_guard<std::mutex> lk(mu_);
  for (std::size_t i = 0; i < n; ++i) {
    const ObjectId id = ids[i];
    Entry* found = map_.find(id);
    if (!found) {
      out.emplace_back();
      if (known) (*known)[i] = 0;
      continue;
    }
    Entry& e = *found;
    e.last_use = ++tick_;
    if (e.spilled) restore(id, e);
    out.push_back(e.data);
  }
}

ObjectTable::ReleaseResult ObjectTable::release_locked(ObjectId id) {
  ReleaseResult r;
  Entry* found = map_.find(id);
  if (!found) return r;
  r.known = true;
  Entry& e = *found;
  if (--e.refs > 0 || e.pinned) return r;
  r.notify_owner = e.owner_counts;
  e.owner_counts = false;  // rank 0 counted this rank once, so it is told once
  // A pending entry stays until its result arrives (complete() drops it then), so waiting
  // tasks and late results never meet a missing entry.
  if (e.data && !e.held) {
    erase(id, e);
    r.freed = true;
  }
  return r;
}

void ObjectTable::set_held(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  map_.get(id).held = true;
}

void ObjectTable::add_copy(ObjectId id, int rank) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry* e = map_.find(id);
  if (!e) return;
  auto& c = e->copies;
  if (std::find(c.begin(), c.end(), rank) == c.end()) c.push_back(rank);
}

bool ObjectTable::free(ObjectId id) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    Entry* e = map_.find(id);
    if (!e) return false;
    erase(id, *e);
  }
  drain_contained();
  return true;
}

bool ObjectTable::mark_fetching(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry& e = map_.get(id);
  if (e.fetching) return false;
  e.fetching = true;
  return true;
}

int ObjectTable::origin(ObjectId id) const {
  std::lock_guard<std::mutex> lk(mu_);
  const Entry* e = map_.find(id);
  return e ? e->origin : -1;
}

std::uint64_t ObjectTable::bytes_held() const {
  std::lock_guard<std::mutex> lk(mu_);
  return bytes_held_;
}

void ObjectTable::pin(ObjectId id) {
  std::lock_guard<std::mutex> lk(mu_);
  if (Entry* e = map_.find(id)) e->pinned = true;
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

void ObjectTable::wait_change_for(ObjectId id, std::uint64_t seen, Clock::time_point until) {
  const std::size_t b = id % kBuckets;
  std::unique_lock<std::mutex> lk(mu_);
  ++bucket_waiters_[b];
  bucket_cv_[b].wait_until(lk, until,
                           [&] { return bucket_gen_[b].load(std::memory_order_acquire) != seen; });
  --bucket_waiters_[b];
}

void ObjectTable::notify_all() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    gen_.fetch_add(1, std::memory_order_acq_rel);
    for (auto& g : bucket_gen_) g.fetch_add(1, std::memory_order_acq_rel);
  }
  cv_.notify_all();
  for (auto& c : bucket_cv_) c.notify_all();
}

}  // namespace mpiray::detail
