#pragma once
// Helpers shared by the object-store suites (tests/objects): deterministic contents, exact
// checksums, resident memory of this process, files under a directory.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace objtest {

/// splitmix64: a fast, well-mixed function of (seed, index), so every object has distinct bytes.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline std::vector<double> make_doubles(std::size_t n, std::uint64_t seed) {
  std::vector<double> v(n);
  const std::uint64_t base = mix(seed);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(mix(base + i) >> 11) * 0x1p-53;
  return v;
}

inline std::vector<std::uint64_t> make_words(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint64_t> v(n);
  const std::uint64_t base = mix(seed);
  for (std::size_t i = 0; i < n; ++i) v[i] = mix(base + i);
  return v;
}

/// Order-sensitive hash of the exact bytes (FNV-1a over 64-bit words): equal only if every bit is.
template <class T>
std::uint64_t checksum(const std::vector<T>& v) {
  static_assert(sizeof(T) == 8, "checksum over 8-byte elements");
  std::uint64_t h = 14695981039346656037ull ^ v.size();
  for (const T& x : v) {
    std::uint64_t w;
    std::memcpy(&w, &x, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  return h;
}

/// Order-sensitive hash of every byte (FNV-1a).
inline std::uint64_t checksum_bytes(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull ^ s.size();
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

/// Resident set size of this process in KiB (VmRSS), -1 if unreadable.
inline long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

struct DirUsage {
  long files = 0;
  std::uint64_t bytes = 0;
};

/// Regular files below `dir` (recursively) and their total size; zero if `dir` does not exist.
inline DirUsage dir_usage(const std::string& dir) {
  DirUsage u;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::exists(dir, ec)) return u;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) {
      ++u.files;
      u.bytes += it->file_size(ec2);
    }
  }
  return u;
}

constexpr std::size_t kMiB = std::size_t(1) << 20;

}  // namespace objtest
