#pragma once
/// @file
/// mpiray's exception hierarchy: everything the runtime throws derives from mpiray::Error.
///
/// @code
/// try {
///   int v = mpiray::task(may_throw).remote(3).get();
/// } catch (const mpiray::TaskError& e) {
///   std::cerr << e.function() << " failed on rank " << e.rank() << ": " << e.message() << "\n";
/// }
/// @endcode
/// Thread-safety: exception objects are immutable after construction and safe to share.

#include <stdexcept>
#include <string>

namespace mpiray {

/// Base of every error mpiray raises.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A remote task (or a task it depended on) threw. Carries where and what.
class TaskError : public Error {
 public:
  TaskError(std::string function, int rank, std::string type, std::string message)
      : Error("mpiray: task '" + function + "' failed on rank " + std::to_string(rank) +
              " with " + type + ": " + message),
        function_(std::move(function)),
        rank_(rank),
        type_(std::move(type)),
        message_(std::move(message)) {}
  /// Registered name of the function that threw.
  const std::string& function() const noexcept { return function_; }
  /// Rank the failing task ran on.
  int rank() const noexcept { return rank_; }
  /// Demangled type of the original exception (e.g. "std::invalid_argument").
  const std::string& type() const noexcept { return type_; }
  /// The original exception's what().
  const std::string& message() const noexcept { return message_; }

 private:
  std::string function_;
  int rank_;
  std::string type_;
  std::string message_;
};

/// An actor call failed because the actor was killed (or died) before or while it was queued.
class ActorDiedError : public TaskError {
 public:
  using TaskError::TaskError;
};

/// The actor's constructor threw; every call on its handles fails with this error, whose
/// message() carries the constructor's original exception type and message.
class ActorCreationError : public TaskError {
 public:
  using TaskError::TaskError;
};

/// get_actor(name) found no actor of that name (or one of another class).
class ActorNotFoundError : public Error {
 public:
  using Error::Error;
};

/// A new object does not fit in this rank's object store (MPIRAY_OBJECT_STORE_MB) even after
/// spilling every object that can be spilled to disk; the message gives the sizes.
class ObjectStoreFullError : public Error {
 public:
  using Error::Error;
};

/// get() with a timeout expired before the object was ready.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

/// A function was used remotely without MPIRAY_REMOTE, or ranks run different registries.
class RegistrationError : public Error {
 public:
  using Error::Error;
};

/// Bad configuration or options: wrong --mpiray-threads, on_rank out of range, wrong launcher.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// The object is unknown or was already freed.
class ObjectError : public Error {
 public:
  using Error::Error;
};

/// The runtime is not running (called outside mpiray::run) or is shutting down.
class RuntimeError : public Error {
 public:
  using Error::Error;
};

}  // namespace mpiray
