#pragma once
/// @file
/// ObjectRef<T>: a future for the result of a remote task or a put object.
///
/// @code
/// mpiray::ObjectRef<int> r = mpiray::task(square).remote(7);  // returns at once
/// int v = r.get();                                               // blocks until ready: 49
/// int w = r.get(std::chrono::milliseconds(10));                  // or throws TimeoutError
/// @endcode
/// Copies share one reference; when the last ObjectRef to an object is gone on every rank, the
/// runtime frees it. An ObjectRef may be passed to tasks (resolved to its value before the task
/// runs) or stored inside values (put objects, task results, task arguments: the object then
/// lives as long as the value holding the ref).
/// Thread-safety: an ObjectRef may be copied, destroyed and get() from several threads at once.

#include <atomic>
#include <boost/serialization/split_member.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "mpiray/detail/codec.hpp"
#include "mpiray/detail/core.hpp"
#include "mpiray/detail/in_place.hpp"
#include "mpiray/errors.hpp"

namespace mpiray {
namespace detail {

/// Owns one reference to an object; the last copy of an ObjectRef destroys it.
class RefHandle {
 public:
  explicit RefHandle(ObjectId id) noexcept : id_(id) {}
  RefHandle(const RefHandle&) = delete;
  RefHandle& operator=(const RefHandle&) = delete;
  ~RefHandle() { release_ref(id_); }
  ObjectId id() const noexcept { return id_; }

 private:
  ObjectId id_;
};

template <class T>
void check_object(const ObjectPtr& d) {
  if (d->failed()) throw_task_error(*d->error);
  if constexpr (!std::is_void_v<T>) {
    const std::uint64_t want = type_tag_of<T>();
    if (d->type_tag != 0 && d->type_tag != want)
      throw_type_mismatch(d->type_tag, want, typeid(T).name());
  }
}

template <class T>
T decode_object(const ObjectPtr& d) {
  check_object<T>(d);
  if constexpr (!std::is_void_v<T>) return Codec<T>::decode(d->bytes);
}

/// The decoded value, cached in the object: decoded once per rank, shared afterwards.
template <class T>
std::shared_ptr<const T> view_object(const ObjectPtr& d) {
  check_object<T>(d);
  if (auto cached = std::atomic_load(&d->typed)) return std::static_pointer_cast<const T>(cached);
  auto fresh = std::make_shared<const T>(Codec<T>::decode(d->bytes));
  std::shared_ptr<const void> expected;
  // Two threads may decode at once; the first to publish wins and both return the same value.
  if (!std::atomic_compare_exchange_strong(&d->typed, &expected,
                                           std::shared_ptr<const void>(fresh)))
    return std::static_pointer_cast<const T>(expected);
  return fresh;
}

}  // namespace detail

template <class T>
class ObjectRef {
 public:
  using value_type = T;
  ObjectRef() = default;
  /// Adopts an id that already carries one reference (runtime use).
  static ObjectRef adopt(detail::ObjectId id) {
    ObjectRef r;
    r.h_ = std::make_shared<detail::RefHandle>(id);
    return r;
  }
  /// Takes a new reference to an existing id (e.g. after deserialization).
  static ObjectRef borrow(detail::ObjectId id) {
    detail::add_ref(id);
    return adopt(id);
  }

  /// Blocks until the value exists, then returns a copy; rethrows a failed task's TaskError.
  T get() const {
    detail::use_in_place<T>();
    return detail::decode_object<T>(detail::get_object(checked_id(), std::nullopt));
  }
  /// As get(), but throws mpiray::TimeoutError once `timeout` has passed.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) const {
    detail::use_in_place<T>();
    return detail::decode_object<T>(
        detail::get_object(checked_id(), detail::Clock::now() + timeout));
  }
  /// Zero-copy access: a shared pointer to the value held on this rank, made once per rank and
  /// shared by every view (the object's own copy where it lives, the cached copy elsewhere).
  /// Vectors and strings of plain elements are never decoded: where they were put, the view is
  /// the put value itself; elsewhere the fetch wrote straight into it. Other types are decoded
  /// on the first view. The pointee stays valid as long as the returned pointer is held, even
  /// after the object is freed. Throws like get().
  std::shared_ptr<const T> view() const {
    static_assert(!std::is_void_v<T>, "view() needs a value type");
    detail::use_in_place<T>();
    return detail::view_object<T>(detail::get_object(checked_id(), std::nullopt));
  }
  /// True once the value (or its error) exists; never blocks.
  bool ready() const { return detail::object_ready(checked_id()); }
  bool valid() const noexcept { return h_ != nullptr; }
  detail::ObjectId id() const noexcept { return h_ ? h_->id() : 0; }

  template <class Archive>
  void save(Archive& ar, const unsigned int /*version*/) const {
    detail::ObjectId v = id();
    if (v != 0) detail::note_contained(v);
    ar << v;
  }
  template <class Archive>
  void load(Archive& ar, const unsigned int /*version*/) {
    detail::ObjectId v = 0;
    ar >> v;
    *this = v != 0 ? borrow(v) : ObjectRef();
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()

 private:
  detail::ObjectId checked_id() const {
    if (!h_)
      throw ObjectError("mpiray: get() on an empty ObjectRef; assign it from remote() or put()");
    return h_->id();
  }
  std::shared_ptr<detail::RefHandle> h_;
};

namespace detail {
template <class T>
struct IsObjectRef : std::false_type {};
template <class T>
struct IsObjectRef<ObjectRef<T>> : std::true_type {};

template <class T>
struct Codec<ObjectRef<T>> {
  static void encode(Writer& w, const ObjectRef<T>& r) {
    const ObjectId v = r.id();
    if (v != 0) note_contained(v);
    w.put(v);
  }
  static ObjectRef<T> decode(std::string_view s) {
    const ObjectId v = Codec<ObjectId>::decode(s);
    return v != 0 ? ObjectRef<T>::borrow(v) : ObjectRef<T>();
  }
};
}  // namespace detail

}  // namespace mpiray
