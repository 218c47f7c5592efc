#pragma once
/// @file
/// Actors: stateful objects pinned to a rank, whose method calls run there in order.
///
/// @code
/// class Counter {
///  public:
///   explicit Counter(int start) : n_(start) {}
///   int add(int d) { return n_ += d; }
///   int value() const { return n_; }
///  private:
///   int n_;
/// };
/// MPIRAY_ACTOR(Counter, int);                     // constructor signature; in Counter's namespace
/// MPIRAY_REMOTE(&Counter::add, &Counter::value);
///
/// auto c = mpiray::actor<Counter>(10).on_rank(1).name("counter").remote();  //
/// ActorHandle<Counter> mpiray::ObjectRef<int> r = c.task(&Counter::add).remote(5); int v =
/// c.task(&Counter::value).remote().get();  // 15 c.kill();
/// @endcode
/// Calls from one caller run in submission order, one at a time by default (max_concurrency(n)
/// lets n run at once on the rank's threads), so actor state needs no locks. Handles are plain
/// values: pass them to tasks and to other actors, which then call the actor directly.
/// Thread-safety: handles may be copied and used from any thread; calls made concurrently from
/// different threads have no order between them.

#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "mpiray/detail/core.hpp"
#include "mpiray/detail/registry.hpp"
#include "mpiray/object_ref.hpp"
#include "mpiray/remote.hpp"

namespace mpiray {
namespace detail {

template <class Tuple>
struct EncodeWithTuple;
template <class... P>
struct EncodeWithTuple<std::tuple<P...>> {
  template <class... A>
  static std::string encode(A&&... a) {
    static_assert(
        sizeof...(A) == sizeof...(P),
        "mpiray: wrong number of constructor arguments for this actor (see MPIRAY_ACTOR)");
    return encode_args<P...>(std::forward<A>(a)...);
  }
};

template <class C, class... A>
bool register_actor(const char* name, std::tuple<A...>* /*signature*/) {
  return register_actor_class(name, &construct_actor<C, A...>, typeid(C),
                              typeid(void (*)(A...)).name());
}

template <class M>
struct MethodArgs;
template <class C, class R, class... P>
struct MethodArgs<R (C::*)(P...)> {
  template <class... A>
  static std::string encode(A&&... a) {
    static_assert(sizeof...(A) == sizeof...(P),
                  "mpiray: wrong number of arguments for this actor method");
    return encode_args<P...>(std::forward<A>(a)...);
  }
};
template <class C, class R, class... P>
struct MethodArgs<R (C::*)(P...) const> : MethodArgs<R (C::*)(P...)> {};
template <class C, class R, class... P>
struct MethodArgs<R (C::*)(P...) noexcept> : MethodArgs<R (C::*)(P...)> {};
template <class C, class R, class... P>
struct MethodArgs<R (C::*)(P...) const noexcept> : MethodArgs<R (C::*)(P...)> {};

}  // namespace detail

/// One method of one actor, ready to call. Obtained from ActorHandle::task.
/// Thread-safety: a value; calling remote() from several threads is safe.
template <class T, class M>
class ActorMethod {
 public:
  using Result = std::decay_t<typename detail::MethodTraits<M>::Result>;
  ActorMethod(detail::ActorRef actor, std::uint64_t method) : actor_(actor), method_(method) {}

  /// Sends the call to the actor's rank and returns at once. ObjectRef arguments are resolved on
  /// the actor's rank before the call runs (later calls of this caller wait behind it).
  template <class... A>
  ObjectRef<Result> remote(A&&... args) const {
    detail::ContainedScope refs;  // refs inside the arguments live until the call is done
    std::string encoded = detail::MethodArgs<M>::encode(std::forward<A>(args)...);
    return ObjectRef<Result>::adopt(
        detail::call_actor(actor_, method_, std::move(encoded), refs.take()));
  }

 private:
  detail::ActorRef actor_;
  std::uint64_t method_;
};

/// A reference to a live actor; cheap to copy and serializable.
/// Thread-safety: may be used from any thread.
template <class T>
class ActorHandle {
 public:
  ActorHandle() = default;
  explicit ActorHandle(detail::ActorRef r) : ref_(r) {}

  /// Selects a method registered with MPIRAY_REMOTE(&T::method). A method of another class
  /// does not compile; an unregistered one throws RegistrationError here.
  template <class M>
  ActorMethod<T, M> task(M method) const {
    static_assert(std::is_member_function_pointer_v<M>, "mpiray: task() takes &Class::method");
    static_assert(std::is_base_of_v<typename detail::MethodTraits<M>::Class, T>,
                  "mpiray: this method belongs to another class than the actor's");
    if (!valid()) throw ActorNotFoundError("mpiray: call on an empty ActorHandle");
    const auto& info = detail::lookup_method(detail::method_key(method), typeid(T).name());
    return ActorMethod<T, M>(ref_, info.id);
  }
  /// Ends the actor: queued and later calls fail with ActorDiedError; a running call finishes.
  void kill() const {
    if (valid()) detail::kill_actor(ref_);
  }
  bool valid() const noexcept { return ref_.actor != 0; }
  /// Rank the actor lives on.
  int rank() const noexcept { return ref_.rank; }
  detail::ObjectId id() const noexcept { return ref_.actor; }
  const detail::ActorRef& ref() const noexcept { return ref_; }

  template <class Archive>
  void serialize(Archive& ar, const unsigned int /*version*/) {
    ar& ref_.actor;
    ar& ref_.rank;
    ar& ref_.class_id;
  }

 private:
  detail::ActorRef ref_;
};

/// Collects the placement options for a new actor. Obtained from mpiray::actor<T>(args...).
/// Thread-safety: a value; do not share one builder between threads.
template <class T>
class ActorBuilder {
 public:
  ActorBuilder(std::string args, std::vector<detail::ObjectId> contained) {
    spec_.class_id = detail::lookup_actor_class(typeid(T)).id;
    spec_.args = std::move(args);
    spec_.contained = std::move(contained);
  }
  ActorBuilder(ActorBuilder&& o) noexcept : spec_(std::move(o.spec_)) { o.spec_.contained.clear(); }
  ActorBuilder(const ActorBuilder&) = delete;
  ActorBuilder& operator=(const ActorBuilder&) = delete;
  ActorBuilder& operator=(ActorBuilder&&) = delete;
  /// A builder dropped without remote() gives back the references its arguments took.
  ~ActorBuilder() {
    for (detail::ObjectId id : spec_.contained) detail::release_ref(id);
  }
  /// Pins the actor to worker rank r (rank 0 only in a one-process run).
  ActorBuilder& on_rank(int r) {
    detail::check_pin(r);
    spec_.pin = r;
    return *this;
  }
  /// Lets up to n calls run at once on the rank's threads (default 1: no locks needed).
  ActorBuilder& max_concurrency(int n) {
    if (n < 1)
      throw ConfigError("mpiray: max_concurrency(" + std::to_string(n) + ") must be at least 1");
    spec_.max_concurrency = n;
    return *this;
  }
  /// Registers the actor under a job-wide name for get_actor<T>(name); a taken name throws.
  ActorBuilder& name(std::string n) {
    spec_.name = std::move(n);
    return *this;
  }
  /// Creates the actor and returns its handle at once; calls queue behind the constructor.
  ActorHandle<T> remote() {
    detail::ActorSpec spec = std::move(spec_);
    spec_.contained.clear();  // the runtime holds them now
    return ActorHandle<T>(detail::create_actor(std::move(spec)));
  }

 private:
  detail::ActorSpec spec_;
};

/// Starts creating an actor of class T (registered with MPIRAY_ACTOR) with these constructor
/// arguments; finish with .remote().
template <class T, class... A>
ActorBuilder<T> actor(A&&... args) {
  using Ctor = std::remove_pointer_t<decltype(mpiray_actor_ctor_args(static_cast<T*>(nullptr)))>;
  detail::ContainedScope refs;  // refs inside the arguments live as long as the actor
  std::string encoded = detail::EncodeWithTuple<Ctor>::encode(std::forward<A>(args)...);
  return ActorBuilder<T>(std::move(encoded), refs.take());
}

/// The actor registered under `name`, or std::nullopt.
template <class T>
std::optional<ActorHandle<T>> try_get_actor(const std::string& name) {
  const detail::ActorRef r = detail::find_named_actor(name);
  if (r.actor == 0) return std::nullopt;
  if (r.class_id != detail::lookup_actor_class(typeid(T)).id)
    throw ActorNotFoundError("mpiray: actor '" + name +
                             "' exists but is not of the requested class");
  return ActorHandle<T>(r);
}

/// The actor registered under `name`; throws ActorNotFoundError if there is none.
template <class T>
ActorHandle<T> get_actor(const std::string& name) {
  auto h = try_get_actor<T>(name);
  if (!h)
    throw ActorNotFoundError("mpiray: no actor is named '" + name +
                             "'; create it with mpiray::actor<T>(...).name(\"" + name +
                             "\").remote() first");
  return *h;
}

}  // namespace mpiray

/// Registers class Cls as an actor with constructor arguments of the given types. Use at
/// namespace scope in the namespace that declares Cls: MPIRAY_ACTOR(Counter, int);
#define MPIRAY_ACTOR(Cls, ...)                                                 \
  [[maybe_unused]] std::tuple<__VA_ARGS__>* mpiray_actor_ctor_args(Cls*);      \
  static const bool MPIRAY_DETAIL_CAT(mpiray_actor_registered_, __COUNTER__) = \
      ::mpiray::detail::register_actor<Cls>(#Cls, static_cast<std::tuple<__VA_ARGS__>*>(nullptr))
