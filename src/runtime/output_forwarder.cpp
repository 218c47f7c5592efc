#include "runtime/output_forwarder.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace mpiray::detail {

OutputForwarder::OutputForwarder(LineFn on_line) : on_line_(std::move(on_line)) {
  const char* env = std::getenv("MPIRAY_FORWARD_OUTPUT");
  if (env && std::strcmp(env, "0") == 0) return;
  int fds[2];
  if (pipe(fds) != 0) return;
  std::cout.flush();
  std::fflush(stdout);
  saved_fd_ = dup(STDOUT_FILENO);
  if (saved_fd_ < 0 || dup2(fds[1], STDOUT_FILENO) < 0) {
    close(fds[0]);
    close(fds[1]);
    if (saved_fd_ >= 0) close(saved_fd_);
    saved_fd_ = -1;
    return;
  }
  close(fds[1]);
  read_fd_ = fds[0];
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a pipe would otherwise be fully buffered
  reader_ = std::thread([this] { read_loop(read_fd_); });
}

OutputForwarder::~OutputForwarder() {
  stop();
}

void OutputForwarder::stop() {
  if (saved_fd_ < 0) return;
  std::cout.flush();
  std::fflush(stdout);
  dup2(saved_fd_, STDOUT_FILENO);  // closes the pipe's last write end: the reader sees EOF
  close(saved_fd_);
  saved_fd_ = -1;
  if (reader_.joinable()) reader_.join();
  close(read_fd_);
  read_fd_ = -1;
}

void OutputForwarder::read_loop(int fd) {
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      on_line_(pending.substr(start, nl - start));
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line_(pending);
}

}  // namespace mpiray::detail
