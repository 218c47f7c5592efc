// bench_metg in mpiray: one task per graph node, dependencies passed as ObjectRef arguments.

#include <mpiray/mpiray.hpp>

#include <vector>

#include "bench_common.hpp"
#include "metg_graph.hpp"

namespace metg {
namespace {

using bench::Clock;
using bench::seconds_since;

// Remote functions, one per number of dependencies (the tag is only used by row 0).
Out node0(std::int64_t iterations, std::int64_t tag) {
  return compute(nullptr, 0, iterations, tag);
}
Out node1(Out a, std::int64_t it) {
  return compute(&a, 1, it, 0);
}
Out node2(Out a, Out b, std::int64_t it) {
  const Out in[] = {a, b};
  return compute(in, 2, it, 0);
}
Out node3(Out a, Out b, Out c, std::int64_t it) {
  const Out in[] = {a, b, c};
  return compute(in, 3, it, 0);
}
Out node4(Out a, Out b, Out c, Out d, std::int64_t it) {
  const Out in[] = {a, b, c, d};
  return compute(in, 4, it, 0);
}
Out node5(Out a, Out b, Out c, Out d, Out e, std::int64_t it) {
  const Out in[] = {a, b, c, d, e};
  return compute(in, 5, it, 0);
}
MPIRAY_REMOTE(node0, node1, node2, node3, node4, node5);

}  // namespace

RunResult run_mpiray(int argc, char** argv, const Graph& g, Placement placement) {
  RunResult res;
  mpiray::run(argc, argv, [&] {
    const int workers = mpiray::num_workers();
    const bool multi = mpiray::world_size() > 1;
    auto pin_of = [&](long i) -> int {
      if (!multi || placement == Placement::kAuto) return -1;
      if (placement == Placement::kCyclic) return 1 + static_cast<int>(i % workers);
      return 1 + static_cast<int>(i * workers / g.width);
    };
    using Ref = mpiray::ObjectRef<Out>;
    auto submit = [&](auto fn, long i, auto&&... args) {
      auto b = mpiray::task(fn);
      const int pin = pin_of(i);
      if (pin >= 0) b.on_rank(pin);
      return b.remote(std::forward<decltype(args)>(args)...);
    };
    const std::int64_t it = g.iterations;
    const auto t0 = Clock::now();
    double sum = 0;
    if (g.pattern == Pattern::kTrivial) {
      std::vector<Ref> all;
      all.reserve(static_cast<std::size_t>(g.tasks()));
      for (long t = 0; t < g.steps; ++t)
        for (long i = 0; i < g.width; ++i) all.push_back(submit(node0, i, it, g.tag(t, i)));
      std::vector<Out> outs = mpiray::get(all);
      res.seconds = seconds_since(t0);
      for (const Out& o : outs) sum = checksum_add(sum, o);
    } else {
      std::vector<Ref> prev, cur;
      for (long i = 0; i < g.width; ++i) prev.push_back(submit(node0, i, it, g.tag(0, i)));
      for (long t = 1; t < g.steps; ++t) {
        cur.clear();
        for (long i = 0; i < g.width; ++i) {
          long a, b;
          g.deps(i, &a, &b);
          const Ref* d = &prev[static_cast<std::size_t>(a)];
          switch (b - a + 1) {
            case 1:
              cur.push_back(submit(node1, i, d[0], it));
              break;
            case 2:
              cur.push_back(submit(node2, i, d[0], d[1], it));
              break;
            case 3:
              cur.push_back(submit(node3, i, d[0], d[1], d[2], it));
              break;
            case 4:
              cur.push_back(submit(node4, i, d[0], d[1], d[2], d[3], it));
              break;
            default:
              cur.push_back(submit(node5, i, d[0], d[1], d[2], d[3], d[4], it));
              break;
          }
        }
        prev.swap(cur);
      }
      std::vector<Out> last = mpiray::get(prev);
      res.seconds = seconds_since(t0);
      for (const Out& o : last) sum = checksum_add(sum, o);
    }
    res.checksum = sum;
    res.cores = multi ? workers * mpiray::num_threads() : mpiray::num_threads();
  });
  return res;
}

}  // namespace metg
