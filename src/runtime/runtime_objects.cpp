// Runtime, object-store part: where values live, puts, broadcasts, task arguments and freeing;
// the holder's and the reader's side of a fetch are in runtime_fetch.cpp.
//
// A value lives on the rank that made it (the "holder"): rank 0 for the driver's puts, the
// worker for its puts and large task results. Rank 0 is the directory: it records each object's
// holder, the ranks caching copies, and the references; when the last reference goes it tells
// the holder and the copies to drop the value (kFree).
//
// Reading a value held elsewhere: the reader asks the holder (kFetch); the holder exposes the
// bytes in its dynamic MPI window (attached once, pinned per read) and answers with the address
// (kFetchReady); the reader copies them with one MPI_Get and says kFetchDone. Asking first costs
// a message round trip, but it means a freed object can never be read from stale memory.

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "runtime/error_info.hpp"
#include "runtime/runtime.hpp"

namespace mpiray::detail {

std::size_t Runtime::inline_limit_from_env() {
  const char* v = std::getenv("MPIRAY_INLINE_KB");
  if (!v || !*v) return 64 * 1024;
  char* end = nullptr;
  const long kb = std::strtol(v, &end, 10);
  if (*end != '\0' || kb < 0)
    throw ConfigError(std::string("mpiray: MPIRAY_INLINE_KB must be a number of KiB >= 0, got '") +
                      v + "'; e.g. MPIRAY_INLINE_KB=64 (the default)");
  return static_cast<std::size_t>(kb) * 1024;
}

std::shared_ptr<ObjectData> Runtime::landing(std::uint64_t size, std::uint64_t type_tag,
                                             char** dst) {
  auto d = std::make_shared<ObjectData>();
  d->size = size;
  d->type_tag = type_tag;
  if (InPlaceMaker make = find_in_place(type_tag)) {
    InPlaceTarget t = make(size);
    if (t.value) {
      *dst = t.data;
      d->bytes = Blob::external(t.value, t.data, size);
      d->typed = std::move(t.value);
      return d;
    }
  }
  d->bytes = Blob::uninitialized(size, dst);
  return d;
}

ObjectData Runtime::keep_local(ObjectId id, Blob bytes, std::uint64_t type_tag,
                               std::shared_ptr<const void> typed) {
  auto d = std::make_shared<ObjectData>();
  d->size = bytes.size();
  d->type_tag = type_tag;
  d->bytes = std::move(bytes);
  d->typed = std::move(typed);
  table_.create_pending(id, 0);
  table_.set_held(id);  // stays until rank 0 frees it, whatever this rank's own references
  table_.complete(id, d);
  ObjectData where;
  where.owner = layout_.rank;
  where.size = d->size;
  where.type_tag = type_tag;
  return where;
}

void Runtime::configure_store() {
  const double kMiB = 1024.0 * 1024.0;
  std::uint64_t limit = 0;
  if (const char* v = std::getenv("MPIRAY_OBJECT_STORE_MB"); v && *v) {
    char* end = nullptr;
    const double mb = std::strtod(v, &end);
    if (*end != '\0' || !(mb > 0))
      throw ConfigError(std::string("mpiray: MPIRAY_OBJECT_STORE_MB must be a positive number of "
                                    "MiB, got '") +
                        v + "'; e.g. MPIRAY_OBJECT_STORE_MB=4096, or unset for 30% of memory");
    limit = static_cast<std::uint64_t>(mb * kMiB);
  } else {
    // Default: 30% of the node's memory, shared by the ranks on the node.
    std::uint64_t mem_kb = 0;
    if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
      char key[64];
      unsigned long long val = 0;
      while (std::fscanf(f, "%63s %llu kB", key, &val) == 2) {
        if (std::string(key) == "MemTotal:") {
          mem_kb = val;
          break;
        }
      }
      std::fclose(f);
    }
    if (mem_kb > 0) limit = mem_kb * 1024 * 3 / 10 / static_cast<std::uint64_t>(layout_.local_size);
  }
  std::string dir;
  if (const char* v = std::getenv("MPIRAY_SPILL_DIR"); v && *v) {
    dir = v;
  } else if (const char* t = std::getenv("TMPDIR"); t && *t) {
    dir = t;
  } else {
    dir = "/tmp";
  }
  dir += "/mpiray-spill-" + std::to_string(::getpid());
  spill_dir_ = dir;
  table_.configure_store(limit, dir);
}

void Runtime::hand_over_contained(ObjectId container, std::uint8_t kind,
                                  std::vector<ObjectId> ids) {
  if (ids.empty()) return;
  queue_record(0, [&](Writer& w) {
    const auto at = begin_record(w, MsgType::kContains);
    w.put(container);
    w.put(kind);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(ids.size()));
    for (ObjectId id : ids) w.put(id);
    end_record(w, at);
  });
  // After the record: rank 0 takes its references before it sees these releases.
  for (ObjectId id : ids) release(id);
}

ObjectId Runtime::put(Blob bytes, std::uint64_t type_tag, std::vector<ObjectId> contained,
                      std::shared_ptr<const void> typed) {
  table_.reserve(bytes.size());  // spills older objects, or throws ObjectStoreFullError
  const ObjectId id = new_id();
  if (layout_.rank == 0) {
    auto d = std::make_shared<ObjectData>();
    d->size = bytes.size();
    d->type_tag = type_tag;
    d->bytes = std::move(bytes);
    d->typed = std::move(typed);
    table_.create_pending(id, 1);
    table_.set_contained(id, contained);  // their references pass to the new object
    table_.complete(id, std::move(d));
    return id;
  }
  hand_over_contained(id, 0, std::move(contained));
  // A worker's put is held by the worker; small ones are also copied to rank 0, which then
  // ships them inside the tasks that use them.
  table_.create_pending(id, 1, /*owner_counts=*/true);
  ObjectData record;
  if (bytes.size() > inline_limit_) {
    record = keep_local(id, std::move(bytes), type_tag, std::move(typed));
  } else {
    auto d = std::make_shared<ObjectData>();
    d->size = bytes.size();
    d->type_tag = type_tag;
    d->bytes = std::move(bytes);
    d->typed = std::move(typed);
    record = *d;
    table_.complete(id, std::move(d));
  }
  queue_record(0, [&](Writer& w) { encode_put(w, id, record); });
  kick();
  return id;
}

ObjectId Runtime::broadcast(Blob bytes, std::uint64_t type_tag, std::shared_ptr<const void> typed) {
  if (layout_.rank != 0)
    throw ConfigError(
        "mpiray: broadcast() is called from the driver (rank 0); inside a task, "
        "return the value or put() it instead");
  const ObjectId id = new_id();
  auto d = std::make_shared<ObjectData>();
  d->size = bytes.size();
  d->type_tag = type_tag;
  d->bytes = std::move(bytes);
  d->typed = std::move(typed);
  table_.create_pending(id, 1);
  table_.complete(id, d);
  if (layout_.size == 1) return id;
  for (int r = 1; r < layout_.size; ++r) {
    table_.add_copy(id, r);
    queue_record(r, [&](Writer& w) {
      const auto at = begin_record(w, MsgType::kBroadcast);
      w.put(id);
      w.put<std::uint64_t>(d->size);
      w.put(type_tag);
      end_record(w, at);
    });
  }
  {
    std::lock_guard<std::mutex> lk(bcast_mu_);
    pending_bcasts_.push_back({-1, id, d});
    bcast_pending_.store(true, std::memory_order_release);
  }
  kick();
  return id;
}

bool Runtime::has_pending_bcasts() {
  std::lock_guard<std::mutex> lk(bcast_mu_);
  return !pending_bcasts_.empty();
}

void Runtime::handle_broadcast(Reader& r) {
  const auto id = r.get<ObjectId>();
  const auto size = r.get<std::uint64_t>();
  const auto tag = r.get<std::uint64_t>();
  char* dst = nullptr;
  auto d = landing(size, tag, &dst);
  table_.create_pending(id, 0);
  table_.set_held(id);        // a copy rank 0 knows about: kept until kFree
  table_.mark_fetching(id);   // tasks needing it wait for the broadcast instead of fetching
  table_.mark_requested(id);  // and get() does not ask rank 0 for it either
  active_bcasts_.push_back({transport_->start_bcast(dst, size), id, d});
}

bool Runtime::prepare_args(Job& job) {
  Reader r(job.args);
  const auto n = r.get<std::uint32_t>();
  bool remote = false;
  bool missing = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = r.get<ArgKind>();
    if (kind != ArgKind::kRemote) {
      r.get_bytes();
      continue;
    }
    remote = true;
    const auto id = r.get<ObjectId>();
    const auto holder = r.get<std::int32_t>();
    r.get<std::uint64_t>();
    ObjectPtr d = table_.try_get(id);
    if (d && d->local()) {
      table_.set_held(id);  // rank 0 counted this rank as a copy holder when it dispatched
      continue;
    }
    start_fetch(id, holder, /*keep=*/true);
    missing = true;
  }
  if (missing) return false;
  if (!remote) return true;
  // Every fetched argument is here: substitute the values.
  Writer w(job.args.size() + 64);
  Reader in(job.args);
  in.get<std::uint32_t>();
  w.put(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = in.get<ArgKind>();
    w.put(ArgKind::kValue);
    if (kind != ArgKind::kRemote) {
      w.put_bytes(in.get_bytes());
      continue;
    }
    const auto id = in.get<ObjectId>();
    in.get<std::int32_t>();
    in.get<std::uint64_t>();
    ObjectPtr d = table_.try_get(id);
    if (d->failed()) {
      job.arg_error = d->error;  // the task fails with the reader's error, without running
      return true;
    }
    w.put_bytes(d->bytes);
  }
  job.args.assign(w.data(), w.size());
  return true;
}

void Runtime::on_object_freed(ObjectId id, const ObjectPtr& data, int origin,
                              const std::vector<int>& copies) {
  // Runs under the table's lock, on any thread: only queue work here.
  if (layout_.rank == 0 && !stopping_) {
    if (origin > 0) queue_record(origin, [&](Writer& w) { encode_id(w, MsgType::kFree, id); });
    for (int r : copies)
      if (r != origin && r != 0)
        queue_record(r, [&](Writer& w) { encode_id(w, MsgType::kFree, id); });
  }
  if (data && data->local() && attached_count_.load(std::memory_order_acquire) > 0) {
    std::lock_guard<std::mutex> lk(freed_mu_);
    freed_.push_back(id);
    freed_pending_.store(true, std::memory_order_release);
  }
}

bool Runtime::object_housekeeping() {
  bool did = false;
  // Detach freed values once no read is in flight.
  std::vector<ObjectId> freed;
  if (freed_pending_.exchange(false, std::memory_order_acq_rel)) {
    std::lock_guard<std::mutex> lk(freed_mu_);
    freed.swap(freed_);
  }
  for (ObjectId id : freed) {
    auto it = attached_.find(id);
    if (it == attached_.end()) continue;
    if (it->second.pins == 0) {
      transport_->detach(it->second.data->bytes.data());
      attached_.erase(it);
      update_exposed_count();
    } else {
      it->second.freed = true;
    }
  }
  // Broadcasts: rank 0 posts the ones the driver started, everyone completes theirs.
  if (layout_.rank == 0 && bcast_pending_.exchange(false, std::memory_order_acq_rel)) {
    std::vector<Bcast> start;
    {
      std::lock_guard<std::mutex> lk(bcast_mu_);
      start.swap(pending_bcasts_);
    }
    for (Bcast& b : start) {
      // MPI_Ibcast only reads the root's buffer.
      b.handle =
          transport_->start_bcast(const_cast<char*>(b.data->bytes.data()), b.data->bytes.size());
      active_bcasts_.push_back(std::move(b));
      did = true;
    }
  }
  for (auto it = active_bcasts_.begin(); it != active_bcasts_.end();) {
    if (!transport_->bcast_done(it->handle)) {
      ++it;
      continue;
    }
    if (layout_.rank != 0) table_.complete(it->id, it->data);
    it = active_bcasts_.erase(it);
    did = true;
  }
  // Tasks waiting for fetched arguments.
  if (!waiting_jobs_.empty()) {
    std::vector<Job> ready;
    for (auto it = waiting_jobs_.begin(); it != waiting_jobs_.end();) {
      if (prepare_args(*it)) {
        ready.push_back(std::move(*it));
        it = waiting_jobs_.erase(it);
      } else {
        ++it;
      }
    }
    if (!ready.empty()) {
      pool_->push(std::move(ready));
      did = true;
    }
  }
  return did;
}

void Runtime::detach_all() {
  for (auto& [id, a] : attached_) transport_->detach(a.data->bytes.data());
  attached_.clear();
  shared_.clear();
}

std::uint64_t Runtime::shm_bytes_from_env() const {
  std::uint64_t bytes = 0;
  if (const char* v = std::getenv("MPIRAY_SHM_MB"); v && *v) {
    char* end = nullptr;
    const double mb = std::strtod(v, &end);
    if (*end != '\0' || !(mb >= 0))
      throw ConfigError(std::string("mpiray: MPIRAY_SHM_MB must be a number of MiB >= 0 (0 turns "
                                    "the same-node shared segments off), got '") +
                        v + "'; e.g. MPIRAY_SHM_MB=256");
    bytes = static_cast<std::uint64_t>(mb * 1024 * 1024);
  } else {
    // Pages of the segment are only used when touched, but they come out of /dev/shm: take at
    // most a quarter of its free space, shared by the node's ranks, and at most 1 GiB.
    struct statvfs fs {};
    if (::statvfs("/dev/shm", &fs) == 0) {
      const std::uint64_t avail = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
      bytes = std::min<std::uint64_t>(avail / 4 / static_cast<std::uint64_t>(layout_.local_size),
                                      std::uint64_t(1) << 30);
    }
  }
  return bytes;
}

void Runtime::open_shared_memory(std::uint64_t bytes) {
  if (bytes < (std::uint64_t(1) << 20)) bytes = 0;  // too small to be worth a segment
  if (transport_->open_shared(bytes))
    arena_ = std::make_shared<ShmArena>(transport_->shared_base(), transport_->shared_size());
}

}  // namespace mpiray::detail
