#pragma once
/// @file
/// Starting the runtime and the free functions of the API: run, get, wait, put, rank.
///
/// @code
/// int main(int argc, char** argv) {
///   return mpiray::run(argc, argv, [] {          // runs on rank 0; other ranks serve tasks
///     std::vector<mpiray::ObjectRef<int>> refs;
///     for (int i = 0; i < 100; ++i) refs.push_back(mpiray::task(square).remote(i));
///     std::vector<int> all = mpiray::get(refs);
///     auto [ready, pending] = mpiray::wait(refs, 10, std::chrono::milliseconds(50));
///     return 0;
///   });
/// }
/// @endcode
/// Thread-safety: every function here may be called from the driver and from inside tasks, on
/// any thread, while run() is active.

#include <chrono>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpiray/object_ref.hpp"

namespace mpiray {

/// Starts MPI and the runtime, runs `body` on rank 0 while the other ranks serve tasks, drains
/// outstanding tasks, shuts every rank down and finalises MPI. Returns the same exit code on every
/// rank: body's int result (0 for a void body), 1 if body threw (the error goes to stderr).
/// Works as one process without mpirun: rank 0 then runs tasks on its own threads.
/// Recognised options (also from the environment): --mpiray-threads N (MPIRAY_THREADS).
int run(int argc, char** argv, std::function<int()> body);

template <class F, std::enable_if_t<std::is_void_v<std::invoke_result_t<F>>, int> = 0>
int run(int argc, char** argv, F&& body) {
  return run(argc, argv, std::function<int()>([b = std::forward<F>(body)]() mutable {
               b();
               return 0;
             }));
}

/// True if argv holds --help or -h: apps print their usage plus runtime_help() and exit.
bool help_requested(int argc, char** argv) noexcept;

/// Text describing mpiray's command-line options and environment variables, for --help.
std::string runtime_help();

/// This process's rank (0 is the driver). Valid inside run().
int rank() noexcept;
/// Number of ranks in the job.
int world_size() noexcept;
/// Number of ranks that run tasks: world_size() - 1, or 1 when running as one process.
int num_workers() noexcept;
/// Threads of this rank's task pool.
int num_threads() noexcept;

/// Stores a value as an immutable object owned by this rank and returns a reference to it.
/// Objects above the inline limit (MPIRAY_INLINE_KB, default 64) stay here and other ranks
/// fetch them on demand with one-sided MPI reads; smaller ones travel with the tasks using them.
template <class T>
ObjectRef<std::decay_t<T>> put(T&& value) {
  using V = std::decay_t<T>;
  if constexpr (detail::InPlace<V>::value) {
    // The value itself is the stored object (moved or copied once); its storage is the bytes.
    detail::use_in_place<V>();
    auto v = std::make_shared<const V>(std::forward<T>(value));
    detail::Blob bytes = detail::in_place_bytes(v);
    return ObjectRef<V>::adopt(
        detail::put_object(std::move(bytes), detail::type_tag_of<V>(), {}, v));
  } else {
    detail::ContainedScope refs;  // ObjectRefs inside the value live as long as it does
    std::string bytes = detail::to_bytes(value);
    return ObjectRef<V>::adopt(
        detail::put_object(std::move(bytes), detail::type_tag_of<V>(), refs.take()));
  }
}

/// Gives every rank its own copy of `value` (one collective broadcast); later tasks on any rank
/// read it locally. Call from the driver.
template <class T>
ObjectRef<std::decay_t<T>> broadcast(T&& value) {
  using V = std::decay_t<T>;
  if constexpr (detail::InPlace<V>::value) {
    detail::use_in_place<V>();  // receivers decode nothing: the collective writes into a V
    auto v = std::make_shared<const V>(std::forward<T>(value));
    return ObjectRef<V>::adopt(
        detail::broadcast_object(detail::in_place_bytes(v), detail::type_tag_of<V>(), v));
  } else {
    return ObjectRef<V>::adopt(
        detail::broadcast_object(detail::to_bytes(value), detail::type_tag_of<V>()));
  }
}

/// Waits for every ref and returns the values in order; rethrows the first failed task's error.
template <class T>
std::vector<T> get(const std::vector<ObjectRef<T>>& refs) {
  std::vector<T> out;
  out.reserve(refs.size());
  for (const auto& r : refs) out.push_back(r.get());
  return out;
}

/// As get(refs), with one deadline for all: throws TimeoutError if it passes first.
template <class T, class Rep, class Period>
std::vector<T> get(const std::vector<ObjectRef<T>>& refs,
                   std::chrono::duration<Rep, Period> timeout) {
  const auto deadline = detail::Clock::now() + timeout;
  std::vector<T> out;
  out.reserve(refs.size());
  for (const auto& r : refs)
    out.push_back(detail::decode_object<T>(detail::get_object(r.id(), deadline)));
  return out;
}

/// Splits `refs` into (ready, pending) once `num_returns` are ready or `timeout` passes, keeping
/// the input order in both lists. A failed task counts as ready (its get() throws).
template <class T, class Rep = long, class Period = std::milli>
std::pair<std::vector<ObjectRef<T>>, std::vector<ObjectRef<T>>> wait(
    const std::vector<ObjectRef<T>>& refs, std::size_t num_returns,
    std::chrono::duration<Rep, Period> timeout = std::chrono::duration<Rep, Period>::max()) {
  std::vector<detail::ObjectId> ids;
  ids.reserve(refs.size());
  for (const auto& r : refs) ids.push_back(r.id());
  detail::Deadline deadline;
  if (timeout <
      std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(std::chrono::hours(24 * 365)))
    deadline = detail::Clock::now() + timeout;
  const std::vector<char> flags = detail::wait_objects(ids, num_returns, deadline);
  std::pair<std::vector<ObjectRef<T>>, std::vector<ObjectRef<T>>> out;
  for (std::size_t i = 0; i < refs.size(); ++i)
    (flags[i] ? out.first : out.second).push_back(refs[i]);
  return out;
}

}  // namespace mpiray
