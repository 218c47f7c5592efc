// bench_objects: object-store throughput of mpiray against plain MPI, measured in the same launch,
// repetitions interleaved so both see the same machine state. Each repetition is one mpiray::run
// (all mpiray measurements) followed by the plain-MPI references on MPI_COMM_WORLD outside run().
//
//   mpirun -np 4 --oversubscribe ./build/apps/bench/bench_objects [--small N] [--remote-small-mib
//   S]
//          [--remote-large-mib L] [--gets-small K] [--gets-large K] [--bcast-mib B] [--local-mib M]
//          [--reps R]
//
// Prints `metric=<name> value=<v> unit=<u>` lines (medians over the repetitions; GB = 1e9 bytes):
//   put_calls                   put() of N small (8-byte) objects on the driver           (calls/s)
//   get_calls                   get() of those N objects                                 (calls/s)
//   get_remote_gbps_<S>mib      driver view() of a value put on rank 1 (a fresh object per read:
//                               nothing cached); K reads, total bytes / total view() time
//   get_remote_gbps_<S>mib_raw_mpi  MPI_Win_create_dynamic + MPI_Win_attach on rank 1, rank 0
//                               MPI_Get of the same bytes into a freshly allocated buffer inside
//                               MPI_Win_lock/unlock (address sent beforehand, not timed)
//   get_remote_gbps_<L>mib[_raw_mpi]  the same for the large size
//   get_result_gbps_<L>mib[_ratio]  the same, but the value is a task's result on rank 1, which
//                               is made in rank 1's shared-memory segment: a reader on the same
//                               node copies it with memcpy (ratio against the raw MPI_Get)
//   broadcast_gbps_<B>mib       mpiray::broadcast(std::move(v)) of B MiB until a task on every
//   worker sees
//                               its local copy ready; bytes x receivers / time
//   broadcast_gbps_<B>mib_raw_mpi   MPI_Bcast of B MiB + a barrier; the same formula
//   get_local_gbps              view() of a fresh M MiB object on the rank holding it (first view;
//                               a vector of plain values is stored as itself: no decode) + reading
//                               every element
//   get_local_gbps_warm         a second view() of that object + reading it (zero-copy)
//   get_local_gbps_raw          reading a plain local vector of M MiB (reference)
//   *_ratio                     mpiray / reference, per repetition, then the median
// put_calls / get_calls have no plain-MPI counterpart and are reported alone.

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include "bench_common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace bench;
using Bytes = std::vector<char>;
constexpr std::size_t kMiB = std::size_t(1) << 20;
constexpr std::size_t kChunk = std::size_t(1) << 30;  // MPI counts are ints
constexpr std::size_t kWarmBytes = 256 * 1024;        // first read of a launch, untimed

// ---- remote functions
mpiray::ObjectRef<Bytes> put_here(std::uint64_t n, std::int32_t fill) {
  return mpiray::put(Bytes(n, static_cast<char>(fill)));
}
// A large task result: made in the worker's shared-memory segment.
Bytes make_here(std::uint64_t n, std::int32_t fill) {
  return Bytes(n, static_cast<char>(fill));
}
// Waits (without reading or requesting it) until the broadcast copy is here.
std::uint64_t bcast_arrived(mpiray::ObjectRef<Bytes> r) {
  while (!r.ready()) std::this_thread::yield();
  return r.id();
}

}  // namespace

MPIRAY_REMOTE(put_here, make_here, bcast_arrived);

namespace {

bool check_bytes(const Bytes& v, std::size_t n, char fill) {
  return v.size() == n && (n == 0 || (v.front() == fill && v[n / 2] == fill && v.back() == fill));
}

double sum_doubles(const std::vector<double>& v) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const std::size_t n = v.size() & ~std::size_t(3);
  for (std::size_t i = 0; i < n; i += 4) {
    s0 += v[i];
    s1 += v[i + 1];
    s2 += v[i + 2];
    s3 += v[i + 3];
  }
  for (std::size_t i = n; i < v.size(); ++i) s0 += v[i];
  return (s0 + s1) + (s2 + s3);
}

struct Options {
  long small = 20000;
  long remote_small_mib = 1, remote_large_mib = 64;
  long gets_small = 32, gets_large = 4;
  long bcast_mib = 64, local_mib = 64;
  int reps = 5;
};

struct MpirayRep {
  double put_calls = 0, get_calls = 0;
  double remote_small = 0, remote_large = 0, shared_large = 0;
  double bcast = 0;
  double local = 0, local_warm = 0;
  bool ok = true;
};

// ---- mpiray side: everything of one repetition inside one run()
// `result`: the value is a task's result (made in the owner's shared segment, read by memcpy
// on the same node) instead of a put vector (kept as itself, read by MPI_Get).
double mpiray_remote_gbps(std::size_t bytes, long k, bool& ok, bool result = false) {
  const int owner = 1;
  {  // untimed: first one-sided read of the run (window and connection set-up); above the
     // inline limit, so the value stays on the owner
    auto ref = mpiray::task(put_here).on_rank(owner).remote(std::uint64_t(kWarmBytes), 1).get();
    ok = ok && check_bytes(ref.get(), kWarmBytes, 1);
  }
  double secs = 0;
  for (long i = 0; i < k; ++i) {
    const char fill = static_cast<char>(i % 100 + 2);
    // A fresh value put on the owner; the driver only has its reference when the timer starts.
    mpiray::ObjectRef<Bytes> ref;
    if (result) {
      ref = mpiray::task(make_here).on_rank(owner).remote(std::uint64_t(bytes), fill);
      mpiray::wait(std::vector<mpiray::ObjectRef<Bytes>>{ref}, 1);  // made; not yet read
    } else {
      ref = mpiray::task(put_here).on_rank(owner).remote(std::uint64_t(bytes), fill).get();
    }
    const auto t0 = Clock::now();
    const auto v = ref.view();  // fetched once into this rank's cache; no further copy
    secs += seconds_since(t0);
    ok = ok && check_bytes(*v, bytes, fill);
  }
  return double(bytes) * k / secs / 1e9;
}

double mpiray_bcast_gbps(std::size_t bytes, bool& ok) {
  Bytes value(bytes, 'b');
  const int workers = mpiray::world_size() - 1;
  const auto t0 = Clock::now();
  // Moved in, as a program broadcasting data it is done with would: the broadcast then sends the
  // vector's own memory, like the plain-MPI reference (an lvalue would be copied once first).
  auto ref = mpiray::broadcast(std::move(value));
  std::vector<mpiray::ObjectRef<std::uint64_t>> seen;
  for (int r = 1; r <= workers; ++r)
    seen.push_back(mpiray::task(bcast_arrived).on_rank(r).remote(ref));
  for (auto& s : seen) ok = ok && s.get() == ref.id();
  const double secs = seconds_since(t0);
  return double(bytes) * workers / secs / 1e9;
}

void mpiray_local(std::size_t bytes, MpirayRep& out) {
  const std::size_t n = bytes / sizeof(double);
  double secs = 0, secs_warm = 0, check = 0;
  constexpr int kObjects = 3;
  for (int i = 0; i < kObjects; ++i) {
    auto ref = mpiray::put(std::vector<double>(n, 1.0 + i));  // fresh: not decoded yet
    auto t0 = Clock::now();
    {
      auto v = ref.view();
      check += sum_doubles(*v);
    }
    secs += seconds_since(t0);
    t0 = Clock::now();
    {
      auto v = ref.view();
      check += sum_doubles(*v);
    }
    secs_warm += seconds_since(t0);
  }
  double want = 0;
  for (int i = 0; i < kObjects; ++i) want += 2.0 * double(n) * (1.0 + i);
  out.ok = out.ok && check == want;
  out.local = double(bytes) * kObjects / secs / 1e9;
  out.local_warm = double(bytes) * kObjects / secs_warm / 1e9;
}

MpirayRep mpiray_rep(int argc, char** argv, const Options& o) {
  MpirayRep rep;
  const int code = mpiray::run(argc, argv, [&] {
    // Small objects: put N, then get them all.
    std::vector<mpiray::ObjectRef<std::int64_t>> refs;
    refs.reserve(o.small);
    auto t0 = Clock::now();
    for (long i = 0; i < o.small; ++i) refs.push_back(mpiray::put(std::int64_t(i)));
    rep.put_calls = o.small / seconds_since(t0);
    std::int64_t sum = 0;
    t0 = Clock::now();
    for (const auto& r : refs) sum += r.get();
    rep.get_calls = o.small / seconds_since(t0);
    rep.ok = rep.ok && sum == std::int64_t(o.small) * (o.small - 1) / 2;
    refs.clear();

    if (mpiray::world_size() > 1) {
      rep.remote_small = mpiray_remote_gbps(o.remote_small_mib * kMiB, o.gets_small, rep.ok);
      rep.remote_large = mpiray_remote_gbps(o.remote_large_mib * kMiB, o.gets_large, rep.ok);
      rep.shared_large = mpiray_remote_gbps(o.remote_large_mib * kMiB, o.gets_large, rep.ok, true);
      rep.bcast = mpiray_bcast_gbps(o.bcast_mib * kMiB, rep.ok);
    }
    mpiray_local(o.local_mib * kMiB, rep);
    return rep.ok ? 0 : 1;
  });
  rep.ok = code == 0;  // the same on every rank
  return rep;
}

// ---- plain-MPI references, on MPI_COMM_WORLD outside mpiray::run
constexpr int kAddrTag = 11, kDoneTag = 12;

// A barrier that sleeps while it waits: ranks not taking part in a measurement leave the cores to
// the ones that do (as idle mpiray workers back off to sleep), instead of spinning in a blocking
// MPI call on an oversubscribed node.
void sleepy_barrier() {
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  for (;;) {
    int done = 0;
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

double raw_remote_gbps(std::size_t bytes, long k) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return 0.0;
  const int owner = 1, reader = 0;
  MPI_Win win;
  MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &win);
  double secs = 0;
  bool ok = true;
  for (long i = -1; i < k; ++i) {  // i = -1: untimed first read (set-up), as on the mpiray side
    const std::size_t n = i < 0 ? kWarmBytes : bytes;
    const char fill = static_cast<char>(i < 0 ? 1 : i % 100 + 2);
    if (rank == owner) {
      Bytes src(n, fill);
      MPI_Win_attach(win, src.data(), static_cast<MPI_Aint>(n));
      MPI_Aint addr = 0;
      MPI_Get_address(src.data(), &addr);
      MPI_Send(&addr, 1, MPI_AINT, reader, kAddrTag, MPI_COMM_WORLD);
      char done = 0;
      MPI_Recv(&done, 1, MPI_CHAR, reader, kDoneTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Win_detach(win, src.data());
    } else if (rank == reader) {
      MPI_Aint addr = 0;
      MPI_Recv(&addr, 1, MPI_AINT, owner, kAddrTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      const auto t0 = Clock::now();
      std::string dst;
      dst.resize(n);  // a fresh buffer, as mpiray's fetch allocates
      MPI_Win_lock(MPI_LOCK_SHARED, owner, 0, win);
      for (std::size_t off = 0; off < n; off += kChunk) {
        const std::size_t len = std::min(kChunk, n - off);
        MPI_Get(dst.data() + off, static_cast<int>(len), MPI_BYTE, owner,
                MPI_Aint_add(addr, static_cast<MPI_Aint>(off)), static_cast<int>(len), MPI_BYTE,
                win);
      }
      MPI_Win_unlock(owner, win);
      if (i >= 0) secs += seconds_since(t0);
      ok = ok && dst.size() == n && dst.front() == fill && dst.back() == fill;
      char done = 1;
      MPI_Send(&done, 1, MPI_CHAR, owner, kDoneTag, MPI_COMM_WORLD);
    }
  }
  sleepy_barrier();
  MPI_Win_free(&win);
  if (rank == reader && !ok) std::cerr << "bench_objects: raw MPI_Get read wrong bytes\n";
  return rank == reader ? double(bytes) * k / secs / 1e9 : 0.0;
}

double raw_bcast_gbps(std::size_t bytes) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return 0.0;
  Bytes src;
  if (rank == 0) src.assign(bytes, 'b');
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = Clock::now();
  std::string dst;
  char* buf = src.data();
  if (rank != 0) {
    dst.resize(bytes);  // receivers get a fresh buffer, as mpiray's broadcast allocates
    buf = dst.data();
  }
  for (std::size_t off = 0; off < bytes; off += kChunk)
    MPI_Bcast(buf + off, static_cast<int>(std::min(kChunk, bytes - off)), MPI_BYTE, 0,
              MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);  // every receiver has it
  const double secs = seconds_since(t0);
  if (rank != 0 && (dst.front() != 'b' || dst.back() != 'b'))
    std::cerr << "bench_objects: raw bcast wrong\n";
  return double(bytes) * (size - 1) / secs / 1e9;
}

// Rank 0 only (where the mpiray side measures too); the others wait asleep.
double raw_local_gbps(std::size_t bytes) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    sleepy_barrier();
    return 0.0;
  }
  const std::size_t n = bytes / sizeof(double);
  double secs = 0, check = 0;
  constexpr int kObjects = 3;
  for (int i = 0; i < kObjects; ++i) {
    const std::vector<double> v(n, 1.0 + i);
    const auto t0 = Clock::now();
    check += sum_doubles(v);
    secs += seconds_since(t0);
  }
  double want = 0;
  for (int i = 0; i < kObjects; ++i) want += double(n) * (1.0 + i);
  if (check != want) std::cerr << "bench_objects: raw local sum wrong\n";
  sleepy_barrier();
  return double(bytes) * kObjects / secs / 1e9;
}

std::string mib_name(const char* prefix, long mib, const char* suffix = "") {
  return std::string(prefix) + std::to_string(mib) + "mib" + suffix;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout
        << "bench_objects: object-store throughput, mpiray vs plain MPI in the same launch\n"
           "usage: mpirun -np 4 --oversubscribe bench_objects [options]\n"
           "  --small N             small objects put and got per repetition (default 20000)\n"
           "  --remote-small-mib S  size of the small remote get, MiB (default 1)\n"
           "  --remote-large-mib L  size of the large remote get, MiB (default 64)\n"
           "  --gets-small K        remote gets of S MiB per repetition (default 32)\n"
           "  --gets-large K        remote gets of L MiB per repetition (default 4)\n"
           "  --bcast-mib B         broadcast size, MiB (default 64; meaningful at np >= 3)\n"
           "  --local-mib M         local view size, MiB (default 64)\n"
           "  --reps R              repetitions; medians are printed (default 5)\n"
           "Remote gets and broadcasts need at least 2 ranks.\n\n"
        << mpiray::runtime_help();
    return 0;
  }
  Options o;
  o.small = std::max(1L, arg_long(argc, argv, "--small", o.small));
  o.remote_small_mib = std::max(1L, arg_long(argc, argv, "--remote-small-mib", o.remote_small_mib));
  o.remote_large_mib = std::max(1L, arg_long(argc, argv, "--remote-large-mib", o.remote_large_mib));
  o.gets_small = std::max(1L, arg_long(argc, argv, "--gets-small", o.gets_small));
  o.gets_large = std::max(1L, arg_long(argc, argv, "--gets-large", o.gets_large));
  o.bcast_mib = std::max(1L, arg_long(argc, argv, "--bcast-mib", o.bcast_mib));
  o.local_mib = std::max(1L, arg_long(argc, argv, "--local-mib", o.local_mib));
  o.reps = static_cast<int>(std::max(1L, arg_long(argc, argv, "--reps", o.reps)));
  setenv("MPIRAY_QUIET", "1", 0);

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  // Warm-up of both paths (page faults, connections), not measured.
  {
    Options w = o;
    w.small = std::min(o.small, 2000L);
    w.gets_small = w.gets_large = 1;
    mpiray_rep(argc, argv, w);
    raw_remote_gbps(o.remote_small_mib * kMiB, 1);
  }
  std::vector<double> pc, gc, rs, rsr, rl, rlr, sl, bc, bcr, lo, low, lor;
  bool ok = true;
  for (int i = 0; i < o.reps; ++i) {
    const MpirayRep m = mpiray_rep(argc, argv, o);
    ok = ok && m.ok;
    pc.push_back(m.put_calls);
    gc.push_back(m.get_calls);
    rs.push_back(m.remote_small);
    rl.push_back(m.remote_large);
    sl.push_back(m.shared_large);
    bc.push_back(m.bcast);
    lo.push_back(m.local);
    low.push_back(m.local_warm);
    rsr.push_back(raw_remote_gbps(o.remote_small_mib * kMiB, o.gets_small));
    rlr.push_back(raw_remote_gbps(o.remote_large_mib * kMiB, o.gets_large));
    bcr.push_back(raw_bcast_gbps(o.bcast_mib * kMiB));
    lor.push_back(raw_local_gbps(o.local_mib * kMiB));
  }
  if (rank == 0) {
    std::cout << "# bench_objects: np=" << size << " reps=" << o.reps << " small=" << o.small
              << " remote=" << o.remote_small_mib << "MiBx" << o.gets_small << ","
              << o.remote_large_mib << "MiBx" << o.gets_large << " bcast=" << o.bcast_mib
              << "MiB local=" << o.local_mib << "MiB (medians)" << std::endl;
    if (!ok) std::cout << "# WRONG: a mpiray measurement read wrong values" << std::endl;
    print_metric("put_calls", median(pc), "calls/s");
    print_metric("get_calls", median(gc), "calls/s");
    if (size > 1) {
      for (auto [mib, x, ref] :
           {std::tuple{o.remote_small_mib, &rs, &rsr}, std::tuple{o.remote_large_mib, &rl, &rlr}}) {
        print_metric(mib_name("get_remote_gbps_", mib).c_str(), median(*x), "GB/s");
        print_metric(mib_name("get_remote_gbps_", mib, "_raw_mpi").c_str(), median(*ref), "GB/s");
        print_metric(mib_name("get_remote_gbps_", mib, "_ratio").c_str(), median_ratio(*x, *ref),
                     "ratio");
      }
      // Same reference as the window read: plain MPI_Get of the same bytes.
      print_metric(mib_name("get_result_gbps_", o.remote_large_mib).c_str(), median(sl), "GB/s");
      print_metric(mib_name("get_result_gbps_", o.remote_large_mib, "_ratio").c_str(),
                   median_ratio(sl, rlr), "ratio");
      print_metric(mib_name("broadcast_gbps_", o.bcast_mib).c_str(), median(bc), "GB/s");
      print_metric(mib_name("broadcast_gbps_", o.bcast_mib, "_raw_mpi").c_str(), median(bcr),
                   "GB/s");
      print_metric(mib_name("broadcast_gbps_", o.bcast_mib, "_ratio").c_str(),
                   median_ratio(bc, bcr), "ratio");
    } else {
      std::cout << "# remote gets and broadcast need at least 2 ranks (mpirun -np 4)" << std::endl;
    }
    print_metric("get_local_gbps", median(lo), "GB/s");
    print_metric("get_local_gbps_warm", median(low), "GB/s");
    print_metric("get_local_gbps_raw", median(lor), "GB/s");
    print_metric("get_local_gbps_ratio", median_ratio(lo, lor), "ratio");
    print_metric("get_local_gbps_warm_ratio", median_ratio(low, lor), "ratio");
  }
  MPI_Finalize();
  return ok ? 0 : 1;
}
