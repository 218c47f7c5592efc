// cluster_probe: shows where an mpiray job really runs and proves that objects cross hosts.
//
//   mpirun -np 4 --map-by node --hostfile hosts ./build/apps/cluster_probe --expect-hosts 3
//   srun --mpi=pmix -N 3 --ntasks-per-node=2 --cpus-per-task=1 ./build/apps/cluster_probe
//
// What it does, on the driver (rank 0):
//   1. one task pinned to every worker rank returns that rank's hostname      -> `host ...`
//   2. put() a vector on the driver, pass its ObjectRef to a task pinned to every worker rank;
//      each returns its hostname and a checksum of the bytes it received      -> `object ...`
//   3. a task on every worker rank makes a vector; its result ref goes to a task on the next
//      worker rank, which checksums it (a result produced on one host, read on another) -> `move ...`
//   4. unpinned tasks report where the scheduler placed them                   -> `spread ...`
// Output lines are machine-readable `key=value` records; the last line is `cluster_probe: OK`
// (exit 0) or `cluster_probe: FAILED` (exit 1).

#include <unistd.h>

#include <mpiray/mpiray.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// FNV-1a over the raw bytes: any byte changed or lost in transit changes the checksum.
std::uint64_t checksum_of(const std::vector<std::uint64_t>& v) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0, n = v.size() * sizeof(std::uint64_t); i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<std::uint64_t> make_pattern(std::uint64_t seed, std::uint64_t count) {
  std::vector<std::uint64_t> v(count);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& e : v) {  // splitmix64: every word differs, so a misplaced block shows
    x += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    e = z ^ (z >> 31);
  }
  return v;
}

// ---- remote functions
using HostInfo = std::tuple<std::string, int, int, int>;             // host, rank, pid, threads
using Received = std::tuple<std::string, int, std::uint64_t, std::uint64_t>;  // host, rank, sum, n

HostInfo where_am_i() {
  return {host_name(), mpiray::rank(), static_cast<int>(getpid()), mpiray::num_threads()};
}
Received checksum_here(std::vector<std::uint64_t> data) {
  return {host_name(), mpiray::rank(), checksum_of(data), data.size()};
}
std::vector<std::uint64_t> make_here(std::uint64_t seed, std::uint64_t count) {
  return make_pattern(seed, count);
}
std::string placed() { return host_name() + " " + std::to_string(mpiray::rank()); }
MPIRAY_REMOTE(where_am_i, checksum_here, make_here, placed);

struct Options {
  std::uint64_t bytes = 1 << 20;  // size of each object moved
  int spread_tasks = 8;           // unpinned tasks per worker rank
  int expect_hosts = 0;           // fail unless tasks ran on at least this many hosts
};

void usage(std::ostream& os) {
  os << "cluster_probe: where does an mpiray job run, and do objects cross hosts?\n"
        "usage: cluster_probe [--bytes N] [--spread-tasks K] [--expect-hosts H] [--mpiray-threads T]\n"
        "  --bytes N          size of each object sent to / made on the workers (default 1048576)\n"
        "  --spread-tasks K   unpinned tasks per worker rank, to show placement (default 8)\n"
        "  --expect-hosts H   exit 1 unless tasks ran on at least H distinct hostnames\n"
        "output: `host rank=R name=H ...`, `object ...`, `move ...`, `spread ...`, `summary ...`,\n"
        "then `cluster_probe: OK` or `cluster_probe: FAILED`\n"
        "launch: mpirun -np 4 --map-by node --hostfile F cluster_probe --expect-hosts 3\n"
        "        srun --mpi=pmix -N 3 --ntasks-per-node=2 --cpus-per-task=1 cluster_probe\n\n"
     << mpiray::runtime_help();
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](long lo) -> long {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < lo) throw std::invalid_argument(a + ": bad value '" + argv[i] + "'");
      return v;
    };
    if (a == "--bytes") {
      o.bytes = static_cast<std::uint64_t>(value(8));
    } else if (a == "--spread-tasks") {
      o.spread_tasks = static_cast<int>(value(0));
    } else if (a == "--expect-hosts") {
      o.expect_hosts = static_cast<int>(value(0));
    } else if (a == "--mpiray-threads") {
      ++i;  // the runtime's option
    } else if (a.rfind("--mpiray-threads=", 0) == 0) {
    } else {
      throw std::invalid_argument("unknown option '" + a + "' (see --help)");
    }
  }
  return true;
}

int probe(const Options& o) {
  bool ok = true;
  const int size = mpiray::world_size();
  std::vector<int> workers;
  if (size == 1) workers.push_back(0);  // one process: rank 0 runs the tasks itself
  for (int r = 1; r < size; ++r) workers.push_back(r);
  const std::string driver_host = host_name();
  std::cout << "probe ranks=" << size << " workers=" << workers.size() << " bytes=" << o.bytes << "\n";
  std::cout << "host rank=0 name=" << driver_host << " pid=" << getpid() << " role=driver\n";

  // 1. where is every worker rank?
  std::vector<mpiray::ObjectRef<HostInfo>> info;
  for (int r : workers) info.push_back(mpiray::task(where_am_i).on_rank(r).remote());
  std::map<int, std::string> host_of;
  std::set<std::string> task_hosts, all_hosts{driver_host};
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const auto [h, r, pid, threads] = info[i].get();
    host_of[r] = h;
    task_hosts.insert(h);
    all_hosts.insert(h);
    std::cout << "host rank=" << r << " name=" << h << " pid=" << pid << " threads=" << threads
              << " role=worker\n";
    if (r != workers[i]) {
      std::cout << "error: task pinned to rank " << workers[i] << " ran on rank " << r << "\n";
      ok = false;
    }
  }

  // 2. an object put on the driver, read by a task on every worker rank
  const std::uint64_t count = o.bytes / sizeof(std::uint64_t);
  const std::vector<std::uint64_t> data = make_pattern(42, count);
  const std::uint64_t expected = checksum_of(data);
  mpiray::ObjectRef<std::vector<std::uint64_t>> ref = mpiray::put(data);
  std::vector<mpiray::ObjectRef<Received>> got;
  for (int r : workers) got.push_back(mpiray::task(checksum_here).on_rank(r).remote(ref));
  int cross_host_objects = 0;
  for (auto& g : got) {
    const auto [h, r, sum, n] = g.get();
    const bool good = sum == expected && n == count;
    ok = ok && good;
    if (good && h != driver_host) ++cross_host_objects;
    std::cout << "object from=0 to=" << r << " from_host=" << driver_host << " to_host=" << h
              << " bytes=" << n * sizeof(std::uint64_t) << " checksum=" << std::hex << sum
              << " expected=" << expected << std::dec << (good ? " ok" : " BAD") << "\n";
  }

  // 3. a result made on one worker rank, consumed on the next one
  int cross_host_moves = 0;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const int src = workers[i], dst = workers[(i + 1) % workers.size()];
    const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(src);
    auto made = mpiray::task(make_here).on_rank(src).remote(seed, count);
    const auto [h, r, sum, n] = mpiray::task(checksum_here).on_rank(dst).remote(made).get();
    const bool good = sum == checksum_of(make_pattern(seed, count)) && n == count && r == dst;
    ok = ok && good;
    if (good && h != host_of[src]) ++cross_host_moves;
    std::cout << "move from=" << src << " to=" << r << " from_host=" << host_of[src]
              << " to_host=" << h << " bytes=" << n * sizeof(std::uint64_t) << (good ? " ok" : " BAD")
              << "\n";
  }

  // 4. unpinned tasks: where does the scheduler put them?
  std::vector<mpiray::ObjectRef<std::string>> spread;
  for (std::size_t i = 0; i < workers.size() * static_cast<std::size_t>(o.spread_tasks); ++i)
    spread.push_back(mpiray::task(placed).remote());
  std::map<std::string, int> per_place;
  for (const std::string& s : mpiray::get(spread)) ++per_place[s];
  for (const auto& [place, n] : per_place) {
    const auto sp = place.find(' ');
    std::cout << "spread name=" << place.substr(0, sp) << " rank=" << place.substr(sp + 1)
              << " tasks=" << n << "\n";
  }

  std::cout << "summary ranks=" << size << " workers=" << workers.size()
            << " distinct_hosts=" << all_hosts.size() << " task_hosts=" << task_hosts.size()
            << " cross_host_objects=" << cross_host_objects
            << " cross_host_moves=" << cross_host_moves << "\n";
  if (o.expect_hosts > 0 && static_cast<int>(task_hosts.size()) < o.expect_hosts) {
    std::cout << "error: tasks ran on " << task_hosts.size() << " distinct host(s), expected at least "
              << o.expect_hosts << "\n";
    ok = false;
  }
  std::cout << (ok ? "cluster_probe: OK" : "cluster_probe: FAILED") << std::endl;
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    usage(std::cout);
    return 0;
  }
  Options o;
  try {
    parse(argc, argv, o);
  } catch (const std::exception& e) {
    std::cerr << "cluster_probe: " << e.what() << "\n";
    return 2;
  }
  return mpiray::run(argc, argv, [&] { return probe(o); });
}
