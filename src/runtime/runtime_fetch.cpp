// Runtime, object-store part: one-sided fetches: the reader's request (start_fetch), the holder's
// side (kFetch: expose the bytes, answer with where they are) and the reader's (kFetchReady: copy
// them with one MPI_Get through the transport, then kFetchDone). See runtime_objects.cpp for where
// values live and why a read asks the holder first.

#include <algorithm>
#include <cstring>

#include "mpiray/errors.hpp"
#include "runtime/error_info.hpp"
#include "runtime/runtime.hpp"

namespace mpiray::detail {

void Runtime::start_fetch(ObjectId id, int holder, bool keep) {
  if (keep) table_.set_held(id);
  if (holder < 0 || holder == layout_.rank) return;  // nothing to read: the value is here
  if (!table_.mark_fetching(id)) return;
  queue_record(holder, [&](Writer& w) { encode_id(w, MsgType::kFetch, id); });
  kick();
}

void Runtime::handle_fetch(int reader, ObjectId id) {
  ObjectPtr d = table_.try_get(id);
  if (!d || !d->local() || d->failed()) {
    queue_record(reader, [&](Writer& w) {
      const auto at = begin_record(w, MsgType::kFetchReady);
      w.put(id);
      w.put<std::uint8_t>(0);
      end_record(w, at);
    });
    return;
  }
  if (arena_ && transport_->peer_segment(reader) && offer_shared(reader, id, d)) return;
  if (!transport_->one_sided()) {
    // No one-sided window on this network: the value travels as a message.
    queue_record(reader, [&](Writer& w) {
      const auto at = begin_record(w, MsgType::kFetchReady);
      w.put(id);
      w.put<std::uint8_t>(2);
      w.put<std::uint64_t>(d->type_tag);
      w.put_bytes(d->bytes);
      end_record(w, at);
    });
    return;
  }
  Attached& a = attached_[id];
  if (!a.data) {
    a.data = d;
    a.addr = transport_->attach(d->bytes.data(), d->bytes.size());
    update_exposed_count();
  }
  ++a.pins;
  queue_record(reader, [&](Writer& w) {
    const auto at = begin_record(w, MsgType::kFetchReady);
    w.put(id);
    w.put<std::uint8_t>(1);
    w.put<std::uint64_t>(a.addr);
    w.put<std::uint64_t>(a.data->bytes.size());
    w.put<std::uint64_t>(a.data->type_tag);
    end_record(w, at);
  });
}

bool Runtime::offer_shared(int reader, ObjectId id, const ObjectPtr& d) {
  // Only values made in the segment: copying a heap value there first would cost the holder a
  // copy more than the single-copy window read does.
  if (!arena_->contains(d->bytes.data())) return false;
  Shared& e = shared_[id];
  e.data = d;  // the bytes stay in the segment while the read is in flight
  ++e.pins;
  update_exposed_count();
  transport_->shared_sync();
  queue_record(reader, [&](Writer& w) {
    const auto rec = begin_record(w, MsgType::kFetchReady);
    w.put(id);
    w.put<std::uint8_t>(3);
    w.put<std::uint64_t>(arena_->offset(d->bytes.data()));
    w.put<std::uint64_t>(d->bytes.size());
    w.put<std::uint64_t>(d->type_tag);
    end_record(w, rec);
  });
  return true;
}

Blob Runtime::copy_for_sharing(std::string_view bytes) {
  if (arena_) {
    char* dst = nullptr;
    Blob b = ShmArena::allocate(arena_, bytes.size(), &dst);
    if (dst) {
      std::memcpy(dst, bytes.data(), bytes.size());
      return b;
    }
  }
  return Blob(std::string(bytes));
}

void Runtime::handle_fetch_ready(int holder, Reader& r) {
  const auto id = r.get<ObjectId>();
  std::shared_ptr<ObjectData> d;
  const auto status = r.get<std::uint8_t>();
  if (status == 2) {  // sent as a message (no one-sided window)
    const auto tag = r.get<std::uint64_t>();
    const std::string_view bytes = r.get_bytes();
    char* dst = nullptr;
    d = landing(bytes.size(), tag, &dst);
    if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
    stat_fetched_message_.fetch_add(d->size, std::memory_order_relaxed);
  } else if (status == 3) {  // in the holder's shared segment on this node: one memcpy
    const auto offset = r.get<std::uint64_t>();
    const auto size = r.get<std::uint64_t>();
    const auto tag = r.get<std::uint64_t>();
    const char* seg = transport_->peer_segment(holder);
    if (!seg || offset + size > transport_->peer_segment_size(holder))
      throw std::runtime_error("shared-segment read out of bounds from rank " +
                               std::to_string(holder));
    transport_->shared_sync();
    char* dst = nullptr;
    d = landing(size, tag, &dst);
    {
      TraceSpan span("fetch",
                     "shared-memory read of object " + std::to_string(id) + " from rank " +
                         std::to_string(holder),
                     size);
      if (size) std::memcpy(dst, seg + offset, size);
    }
    stat_fetched_shared_.fetch_add(size, std::memory_order_relaxed);
    queue_record(holder, [&](Writer& w) { encode_id(w, MsgType::kFetchDone, id); });
  } else if (status == 0) {
    d = std::make_shared<ObjectData>();
    d->error = make_error_info("mpiray::get", holder, "mpiray::ObjectError",
                               "object " + std::to_string(id) + " was freed on rank " +
                                   std::to_string(holder) + " before it could be read");
  } else {
    const auto addr = r.get<std::uint64_t>();
    const auto size = r.get<std::uint64_t>();
    const auto tag = r.get<std::uint64_t>();
    char* dst = nullptr;
    d = landing(size, tag, &dst);
    {
      TraceSpan span("fetch",
                     "fetch object " + std::to_string(id) + " from rank " + std::to_string(holder),
                     size);
      transport_->get(dst, size, holder, addr);
    }
    stat_fetched_window_.fetch_add(size, std::memory_order_relaxed);
    queue_record(holder, [&](Writer& w) { encode_id(w, MsgType::kFetchDone, id); });
  }
  table_.complete(id, std::move(d));
}

void Runtime::handle_fetch_done(ObjectId id) {
  // A value is either in the shared segment (read there) or on the heap (read through the
  // window), never both, so the id alone says which read ended.
  if (auto sit = shared_.find(id); sit != shared_.end()) {
    if (--sit->second.pins == 0) {
      shared_.erase(sit);  // the table's own reference decides the value's life again
      update_exposed_count();
    }
    return;
  }
  auto it = attached_.find(id);
  if (it == attached_.end()) return;
  // Unexposed as soon as no read is in flight, so the value can spill to disk (attaching again
  // for the next reader is cheap next to the read itself).
  if (--it->second.pins == 0) {
    transport_->detach(it->second.data->bytes.data());
    attached_.erase(it);
    update_exposed_count();
  }
}

}  // namespace mpiray::detail
