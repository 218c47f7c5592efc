#pragma once
/// @file
/// Remote functions: register with MPIRAY_REMOTE, submit with mpiray::task(f).remote(args...).
///
/// @code
/// int square(int x) { return x * x; }
/// MPIRAY_REMOTE(square);  // at namespace scope, in the program every rank runs
///
/// mpiray::ObjectRef<int> r = mpiray::task(square).remote(7);
/// auto r2 = mpiray::task(square).on_rank(1).max_retries(2).name("sq").remote(r);  // ref argument
/// @endcode
/// Argument types are checked against the function's parameters at compile time. An
/// ObjectRef<T> argument must have exactly the parameter's (decayed) type T; it is resolved to
/// its value before the task runs, and the task waits in the scheduler until then. A parameter
/// declared as ObjectRef<T> receives the reference itself instead (read it with get() or view()).
/// Thread-safety: task() and remote() may be called from any thread, including inside tasks.

#include <string>
#include <type_traits>
#include <utility>

#include "mpiray/detail/core.hpp"
#include "mpiray/detail/registry.hpp"
#include "mpiray/object_ref.hpp"

namespace mpiray {
namespace detail {

template <class P, class A>
void encode_one_arg(Writer& w, A&& a) {
  using D = std::decay_t<A>;
  using Param = std::decay_t<P>;
  if constexpr (IsObjectRef<D>::value && !IsObjectRef<Param>::value) {
    static_assert(std::is_same_v<typename D::value_type, Param>,
                  "mpiray: an ObjectRef<T> argument must have exactly the parameter's type T");
    if (!a.valid())
      throw ObjectError("mpiray: an empty ObjectRef was passed as a task argument");
    w.put(ArgKind::kRef);
    w.put<ObjectId>(a.id());
  } else {
    static_assert(std::is_convertible_v<A&&, Param>,
                  "mpiray: argument type does not convert to the remote function's parameter type");
    w.put(ArgKind::kValue);
    if constexpr (std::is_same_v<D, Param>) {
      encode_segment(w, a);
    } else {
      encode_segment(w, Param(std::forward<A>(a)));
    }
  }
}

template <class... P, class... A>
std::string encode_args(A&&... a) {
  // Encoded in a buffer kept by the thread, so a submission allocates only its string (a fresh
  // buffer each time was one of the driver's allocations per task). A value whose encoding
  // submits tasks itself (none of mpiray's do) would find the buffer in use and take its own.
  thread_local Writer kept;
  thread_local bool in_use = false;
  Writer own;
  Writer& w = in_use ? own : kept;
  struct Use {
    bool& flag;
    bool was;
    ~Use() { flag = was; }
  } use{in_use, in_use};
  in_use = true;
  w.clear();
  w.put<std::uint32_t>(sizeof...(A));
  (encode_one_arg<P>(w, std::forward<A>(a)), ...);
  std::string out(w.data(), w.size());
  if (&w == &kept && w.size() > 64 * 1024) kept = Writer();  // no large buffer kept for good
  return out;
}

}  // namespace detail

/// Options and submission for one remote function. Obtained from mpiray::task(f).
/// Thread-safety: a builder is a value; do not share one builder between threads.
template <class Fn>
class TaskBuilder;

template <class R, class... P>
class TaskBuilder<R (*)(P...)> {
 public:
  using Result = std::decay_t<R>;
  explicit TaskBuilder(const detail::FunctionInfo& fn) : fn_(&fn) {}

  /// Runs the task on rank `r` (a worker rank; rank 0 when running as one process).
  TaskBuilder& on_rank(int r) {
    detail::check_pin(r);
    spec_pin_ = r;
    return *this;
  }
  /// Re-runs the task up to `n` times if it throws; the last error is reported.
  TaskBuilder& max_retries(int n) {
    if (n < 0) throw ConfigError("mpiray: max_retries(" + std::to_string(n) + ") must be >= 0");
    retries_ = n;
    return *this;
  }
  /// A display name for traces and error messages (defaults to the registered name).
  TaskBuilder& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }

  /// Submits the task and returns at once with a reference to its future result.
  template <class... A>
  ObjectRef<Result> remote(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P),
                  "mpiray: wrong number of arguments for this remote function");
    detail::TaskSubmission t;
    t.func_id = fn_->id;
    {
      detail::ContainedScope refs;  // refs passed as ObjectRef parameters: held until it ran
      t.args = detail::encode_args<P...>(std::forward<A>(args)...);
      t.contained = refs.take();
    }
    t.pin = spec_pin_;
    t.max_retries = retries_;
    t.name = name_;
    return ObjectRef<Result>::adopt(detail::submit_task(std::move(t)));
  }

 private:
  const detail::FunctionInfo* fn_;
  int spec_pin_ = -1;
  int retries_ = 0;
  std::string name_;
};

/// Starts a remote call of a function registered with MPIRAY_REMOTE.
/// Throws RegistrationError if `f` was not registered.
template <class R, class... P>
TaskBuilder<R (*)(P...)> task(R (*f)(P...)) {
  return TaskBuilder<R (*)(P...)>(detail::lookup_function(reinterpret_cast<const void*>(f)));
}
template <class R, class... P>
TaskBuilder<R (*)(P...)> task(R (*f)(P...) noexcept) {
  return task(reinterpret_cast<R (*)(P...)>(f));
}

}  // namespace mpiray

#define MPIRAY_DETAIL_REG1(f)                                               \
  static const bool MPIRAY_DETAIL_CAT(mpiray_registered_, __COUNTER__) = \
      ::mpiray::detail::register_remote<f>(#f)

/// Registers remote functions by their written name: MPIRAY_REMOTE(f); or MPIRAY_REMOTE(f, g);
/// Use at namespace scope in code every rank runs; up to 16 names per use. Overloaded names are
/// not supported.
#define MPIRAY_REMOTE(...) MPIRAY_DETAIL_FOR_EACH(MPIRAY_DETAIL_REG1, __VA_ARGS__)

#define MPIRAY_DETAIL_EXPAND(x) x
#define MPIRAY_DETAIL_FE_1(m, a) m(a)
#define MPIRAY_DETAIL_FE_2(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_1(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_3(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_2(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_4(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_3(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_5(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_4(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_6(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_5(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_7(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_6(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_8(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_7(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_9(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_8(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_10(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_9(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_11(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_10(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_12(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_11(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_13(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_12(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_14(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_13(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_15(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_14(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_16(m, a, ...) m(a); MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_15(m, __VA_ARGS__))
#define MPIRAY_DETAIL_FE_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, \
                              _16, NAME, ...)                                                  \
  NAME
#define MPIRAY_DETAIL_FOR_EACH(m, ...)                                                    \
  MPIRAY_DETAIL_EXPAND(MPIRAY_DETAIL_FE_PICK(__VA_ARGS__, MPIRAY_DETAIL_FE_16, MPIRAY_DETAIL_FE_15, \
                                             MPIRAY_DETAIL_FE_14, MPIRAY_DETAIL_FE_13,            \
                                             MPIRAY_DETAIL_FE_12, MPIRAY_DETAIL_FE_11,            \
                                             MPIRAY_DETAIL_FE_10, MPIRAY_DETAIL_FE_9,             \
                                             MPIRAY_DETAIL_FE_8, MPIRAY_DETAIL_FE_7,              \
                                             MPIRAY_DETAIL_FE_6, MPIRAY_DETAIL_FE_5,              \
                                             MPIRAY_DETAIL_FE_4, MPIRAY_DETAIL_FE_3,              \
                                             MPIRAY_DETAIL_FE_2, MPIRAY_DETAIL_FE_1, unused)(m, __VA_ARGS__))
