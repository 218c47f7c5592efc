#include "runtime/crash_report.hpp"

#include <signal.h>
#include <string.h>
#include <unistd.h>

namespace mpiray::detail {
namespace {

int g_rank = -1;
char g_host[128] = {0};
// Initial-exec TLS of the executable: safe to read from a signal handler on the same thread.
thread_local const char* tl_task_name = nullptr;
thread_local std::uint64_t tl_task_id = 0;

void put_str(char*& p, char* end, const char* s) {
  while (*s && p < end) *p++ = *s++;
}
void put_num(char*& p, char* end, std::uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && n < 24);
  while (n > 0 && p < end) *p++ = tmp[--n];
}

void on_fatal(int sig) {
  char buf[512];
  char* p = buf;
  char* end = buf + sizeof(buf) - 2;
  put_str(p, end, "mpiray: rank ");
  put_num(p, end, static_cast<std::uint64_t>(g_rank < 0 ? 0 : g_rank));
  put_str(p, end, " (");
  put_str(p, end, g_host);
  put_str(p, end, ") died of signal ");
  put_num(p, end, static_cast<std::uint64_t>(sig));
  put_str(p, end, " (");
  put_str(p, end, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  put_str(p, end, ")");
  if (tl_task_name) {
    put_str(p, end, " while running task '");
    put_str(p, end, tl_task_name);
    put_str(p, end, "' (task id ");
    put_num(p, end, tl_task_id);
    put_str(p, end, ")");
  } else {
    put_str(p, end, " outside any task");
  }
  *p++ = '\n';
  (void)!write(STDERR_FILENO, buf, static_cast<std::size_t>(p - buf));
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void install_crash_handlers(int rank, const std::string& host) {
  g_rank = rank;
  strncpy(g_host, host.c_str(), sizeof(g_host) - 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_fatal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

CurrentTaskScope::CurrentTaskScope(const char* name, std::uint64_t task)
    : prev_name_(tl_task_name), prev_task_(tl_task_id) {
  tl_task_name = name;
  tl_task_id = task;
}

CurrentTaskScope::~CurrentTaskScope() {
  tl_task_name = prev_name_;
  tl_task_id = prev_task_;
}

}  // namespace mpiray::detail
