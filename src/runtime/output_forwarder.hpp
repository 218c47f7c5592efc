#pragma once
// Forwards a worker rank's stdout to the driver, line by line, so prints inside tasks show up in
// the driver's output prefixed with their rank ("[rank 2] ..."), under mpirun and srun alike.
// The worker's fd 1 is redirected into a pipe (line-buffered); a reader thread hands complete
// lines to `on_line`. Disable with MPIRAY_FORWARD_OUTPUT=0.

#include <functional>
#include <string>
#include <thread>

namespace mpiray::detail {

class OutputForwarder {
 public:
  using LineFn = std::function<void(std::string line)>;
  /// Starts forwarding; does nothing if the environment disables it or the pipe cannot be made.
  explicit OutputForwarder(LineFn on_line);
  ~OutputForwarder();
  /// Restores stdout, flushes the last partial line and joins the reader thread.
  void stop();
  bool active() const { return saved_fd_ >= 0; }

 private:
  void read_loop(int fd);
  LineFn on_line_;
  int saved_fd_ = -1;
  int read_fd_ = -1;
  std::thread reader_;
};

}  // namespace mpiray::detail
