#pragma once
// Fatal-signal reporting: a worker that dies of SIGSEGV, SIGABRT, ... prints which rank it was and
// which task it was running before the default action ends it (mpirun then ends the job with a
// non-zero code instead of leaving rank 0 waiting).

#include <cstdint>
#include <string>

namespace mpiray::detail {

void install_crash_handlers(int rank, const std::string& host);

/// Marks the calling thread as running `name` until the scope ends (read by the signal handler).
class CurrentTaskScope {
 public:
  CurrentTaskScope(const char* name, std::uint64_t task);
  ~CurrentTaskScope();
  CurrentTaskScope(const CurrentTaskScope&) = delete;
  CurrentTaskScope& operator=(const CurrentTaskScope&) = delete;

 private:
  const char* prev_name_;
  std::uint64_t prev_task_;
};

}  // namespace mpiray::detail
