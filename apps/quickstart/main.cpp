// A short tour of mpiray: remote tasks, futures, ObjectRef arguments, wait, errors, nested tasks.
//
//   ./build/apps/quickstart                      # one process: rank 0 runs tasks on its threads
//   mpirun -np 3 --oversubscribe ./build/apps/quickstart

#include <mpiray/mpiray.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
int where_am_i() { return mpiray::rank(); }
double checked_sqrt(double x) {
  if (x < 0) throw std::domain_error("negative input " + std::to_string(x));
  return std::sqrt(x);
}
long fib(int n) {  // nested tasks: each call submits its two halves and waits for them
  if (n < 2) return n;
  auto a = mpiray::task(fib).remote(n - 1);
  auto b = mpiray::task(fib).remote(n - 2);
  return a.get() + b.get();
}
std::string greet(const std::string& who, std::vector<int> xs) {
  return "hello " + who + ", sum=" + std::to_string(std::accumulate(xs.begin(), xs.end(), 0));
}
MPIRAY_REMOTE(square, add, where_am_i, checked_sqrt, fib, greet);

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "quickstart: a tour of mpiray's task API\nusage: quickstart [--mpiray-threads N]\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  return mpiray::run(argc, argv, [] {
    std::cout << "[1] world of " << mpiray::world_size() << " rank(s), " << mpiray::num_workers()
              << " worker rank(s)\n";

    mpiray::ObjectRef<int> r = mpiray::task(square).remote(7);
    std::cout << "[2] square(7) = " << r.get() << "\n";

    std::vector<mpiray::ObjectRef<int>> refs;
    for (int i = 0; i < 1000; ++i) refs.push_back(mpiray::task(square).remote(i));
    std::vector<int> all = mpiray::get(refs);
    long sum = std::accumulate(all.begin(), all.end(), 0L);
    std::cout << "[3] sum of squares 0..999 = " << sum << " (expected 332833500)\n";

    auto [ready, pending] = mpiray::wait(refs, 10, std::chrono::milliseconds(50));
    std::cout << "[4] wait(10 of 1000): " << ready.size() << " ready, " << pending.size()
              << " pending\n";

    auto r2 = mpiray::task(add).max_retries(2).name("add-refs").remote(r, r);  // refs as arguments
    std::cout << "[5] add(square(7), square(7)) = " << r2.get() << "\n";

    std::vector<mpiray::ObjectRef<int>> ranks;
    for (int i = 0; i < 8; ++i) ranks.push_back(mpiray::task(where_am_i).remote());
    std::cout << "[6] 8 tasks ran on ranks:";
    for (int x : mpiray::get(ranks)) std::cout << ' ' << x;
    std::cout << "\n";

    try {
      mpiray::task(checked_sqrt).remote(-1.0).get();
    } catch (const mpiray::TaskError& e) {
      std::cout << "[7] error reached the caller: " << e.what() << "\n";
    }

    std::cout << "[8] fib(12) with nested tasks = " << mpiray::task(fib).remote(12).get()
              << " (expected 144)\n";
    std::cout << "[9] " << mpiray::task(greet).remote(std::string("mpiray"), std::vector<int>{1, 2, 3}).get()
              << "\n";
    const bool ok = sum == 332833500L && r2.get() == 98;
    std::cout << (ok ? "quickstart: OK" : "quickstart: FAILED") << std::endl;
    return ok ? 0 : 1;
  });
}
