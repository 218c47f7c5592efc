#pragma once
// Prints a line a worker rank forwarded to the driver (see output_forwarder.hpp), prefixed with
// its rank. Shared by the runtime's message handling and its final quiescence.

#include <cstdio>
#include <string>
#include <string_view>

namespace mpiray::detail {

inline void print_forwarded(int source, std::string_view line) {
  std::string text = "[rank " + std::to_string(source) + "] ";
  text.append(line);
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace mpiray::detail
