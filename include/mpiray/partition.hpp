#pragma once
/// @file
/// Data parallelism over partitioned data: scatter a vector into partitions placed across the
/// worker ranks, run a function where each partition lives, reduce the partial results in a
/// pairwise tree, gather everything back.
///
/// @code
/// double local_sum(const std::vector<double>& part) { return std::accumulate(...); }
/// MPIRAY_REMOTE(local_sum);
///
/// auto parts = mpiray::scatter(data, /*num_partitions=*/16);   // ObjectRef<std::vector<double>>
/// auto partial = mpiray::map_partitions(local_sum, parts);     // ObjectRef<double> per partition
/// double total = mpiray::reduce(std::plus<>{}, partial).get(); // tree reduction
/// std::vector<double> back = mpiray::gather(parts);            // == data
/// @endcode
///
/// Placement: partition i of n is produced by a task pinned to worker rank 1 + i*W/n (W worker
/// ranks), so the object is created there (the object store keeps values above its inline limit
/// with the rank that made them) and neighbouring partitions share a rank, which lets the first
/// levels of a reduction tree combine values on one rank.
/// map_partitions and reduce pin each task to the rank its (left) input was placed on and
/// record the result there too, so chains of these calls stay where the data is. The placement
/// is remembered on the rank that called scatter/map_partitions/reduce; ObjectRefs from
/// elsewhere run wherever the scheduler puts them. In a one-process run everything is local.
/// Thread-safety: the functions may be called from any thread while mpiray::run is active.

#include <algorithm>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mpiray/detail/chunk.hpp"
#include "mpiray/detail/codec.hpp"
#include "mpiray/detail/registry.hpp"
#include "mpiray/object_ref.hpp"
#include "mpiray/remote.hpp"
#include "mpiray/runtime.hpp"

namespace mpiray {
namespace detail {

/// Where this rank placed objects (scatter, map_partitions, reduce results): object id -> rank.
/// A hint for pinning later tasks; stale or missing entries only cost locality.
class PlacementHints {
 public:
  void set(ObjectId id, int rank) {
    std::lock_guard<std::mutex> lk(mu_);
    if (map_.size() >= kMaxEntries) map_.clear();  // ids are never reused within a run
    map_[id] = rank;
  }
  /// The rank `id` was placed on if it is a valid worker rank now, else -1.
  int get(ObjectId id) const {
    if (world_size() <= 1) return -1;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = map_.find(id);
    if (it == map_.end() || it->second < 1 || it->second >= world_size()) return -1;
    return it->second;
  }

 private:
  static constexpr std::size_t kMaxEntries = std::size_t{1} << 20;
  mutable std::mutex mu_;
  std::unordered_map<ObjectId, int> map_;
};

inline PlacementHints& placement_hints() {
  static PlacementHints h;
  return h;
}

/// The rank an object was placed on by scatter/map_partitions/reduce on this rank, or -1.
inline int placed_rank(ObjectId id) { return placement_hints().get(id); }

/// Pairwise combination task for a stateless functor Op (std::plus<>, std::multiplies<>, ...):
/// registered once per (T, Op) instantiation at start-up, under a name built from both types,
/// so every rank of the same binary has the same entry.
template <class T, class Op>
struct ReducePair {
  static T call(T a, T b) { return static_cast<T>(Op{}(std::move(a), std::move(b))); }
  static std::string name() {
    return "mpiray::reduce<" + readable_type_name(typeid(T).name()) + ", " +
           readable_type_name(typeid(Op).name()) + ">";
  }
  static inline const bool registered = register_remote<&ReducePair::call>(name().c_str());
};

/// Identity task that creates a partition as a result object on the rank it is pinned to;
/// registered once per element type at start-up, like ReducePair.
template <class T>
struct ScatterPlace {
  static std::vector<T> call(std::vector<T> part) { return part; }
  static std::string name() {
    return "mpiray::scatter<" + readable_type_name(typeid(T).name()) + ">";
  }
  static inline const bool registered = register_remote<&ScatterPlace::call>(name().c_str());
};

template <class Op, class T>
ObjectRef<T> combine_pair(const Op& op, const ObjectRef<T>& a, const ObjectRef<T>& b) {
  const int where = placed_rank(a.id());
  auto submit = [&](auto builder) {
    if (where >= 0) builder.on_rank(where);
    return builder.remote(a, b);
  };
  ObjectRef<T> out;
  if constexpr (std::is_pointer_v<Op> && std::is_function_v<std::remove_pointer_t<Op>>) {
    static_assert(std::is_same_v<typename FnSig<Op>::Result, T>,
                  "mpiray::reduce: the function must return the element type T");
    out = submit(task(op));
  } else {
    static_assert(std::is_empty_v<Op> && std::is_default_constructible_v<Op>,
                  "mpiray::reduce takes a function T(T, T) registered with MPIRAY_REMOTE or a "
                  "stateless functor such as std::plus<>{} (lambdas are not default-constructible "
                  "in C++17: write a function and register it)");
    static_cast<void>(&ReducePair<T, Op>::registered);  // instantiates the registration
    out = submit(task(&ReducePair<T, Op>::call));
  }
  if (where >= 0) placement_hints().set(out.id(), where);
  return out;
}

}  // namespace detail

/// Splits `data` into `num_partitions` contiguous parts (sizes differ by at most one; 0 means
/// one per worker rank) and stores each as an object on a worker rank (block placement, see the
/// file comment). gather(scatter(v, n)) == v.
/// @code
/// std::vector<mpiray::ObjectRef<std::vector<int>>> parts = mpiray::scatter(v, 8);
/// @endcode
/// Thread-safety: may be called from any thread.
template <class T>
std::vector<ObjectRef<std::vector<T>>> scatter(const std::vector<T>& data,
                                               std::size_t num_partitions = 0) {
  const int workers = world_size() > 1 ? num_workers() : 0;
  const std::size_t parts =
      num_partitions != 0 ? num_partitions : static_cast<std::size_t>(workers > 0 ? workers : 1);
  const std::size_t n = data.size();
  std::vector<ObjectRef<std::vector<T>>> out;
  out.reserve(parts);
  static_cast<void>(&detail::ScatterPlace<T>::registered);  // instantiates the registration
  for (std::size_t i = 0; i < parts; ++i) {
    const auto lo = static_cast<std::ptrdiff_t>(i * n / parts);
    const auto hi = static_cast<std::ptrdiff_t>((i + 1) * n / parts);
    std::vector<T> part(data.begin() + lo, data.begin() + hi);
    if (workers == 0) {  // one process: the object lives here, where every task runs
      out.push_back(put(std::move(part)));
      continue;
    }
    const int where = 1 + static_cast<int>(i * static_cast<std::size_t>(workers) / parts);
    out.push_back(task(&detail::ScatterPlace<T>::call).on_rank(where).name("scatter").remote(
        std::move(part)));
    detail::placement_hints().set(out.back().id(), where);
  }
  return out;
}

/// Concatenates the partitions, in order, into one vector (on the calling rank).
/// @code
/// std::vector<int> all = mpiray::gather(parts);
/// @endcode
/// Thread-safety: may be called from any thread.
template <class T>
std::vector<T> gather(const std::vector<ObjectRef<std::vector<T>>>& parts) {
  std::vector<std::vector<T>> pieces;
  pieces.reserve(parts.size());
  std::size_t n = 0;
  for (const auto& p : parts) {
    pieces.push_back(p.get());
    n += pieces.back().size();
  }
  std::vector<T> out;
  out.reserve(n);
  for (auto& piece : pieces) std::move(piece.begin(), piece.end(), std::back_inserter(out));
  return out;
}

/// Runs f(partition, extra...) once per partition, on the rank the partition was placed on;
/// returns the futures in partition order. f is registered with MPIRAY_REMOTE and takes the
/// partition type (e.g. const std::vector<T>&) first.
/// @code
/// std::vector<mpiray::ObjectRef<long>> counts = mpiray::map_partitions(count_above, parts, 10);
/// @endcode
/// Thread-safety: may be called from any thread.
template <class F, class Part, class... A>
auto map_partitions(F f, const std::vector<ObjectRef<Part>>& parts, const A&... extra) {
  static_assert(detail::kIsRemoteFnPtr<F>,
                "mpiray::map_partitions takes a function registered with MPIRAY_REMOTE");
  using R = typename detail::FnSig<F>::Result;
  std::vector<ObjectRef<R>> out;
  out.reserve(parts.size());
  for (const auto& p : parts) {
    auto b = task(f);
    const int where = detail::placed_rank(p.id());
    if (where >= 0) b.on_rank(where);
    out.push_back(b.remote(p, extra...));
    if (where >= 0) detail::placement_hints().set(out.back().id(), where);
  }
  return out;
}

/// Combines the values in a pairwise tree: level by level, (v0 op v1), (v2 op v3), ... with an
/// odd last value carried up, each pair as a task on the rank of its left operand; returns the
/// root's future. The order of operands is kept (left to right), so `op` must be
/// associative but need not be commutative. `op` is a function T(T, T) registered with
/// MPIRAY_REMOTE, or a stateless functor such as std::plus<>{}. Every pair task is submitted at
/// once (the levels run as their inputs complete); reduce returns when the root value exists
/// (it keeps the intermediate values alive until then). Throws std::invalid_argument for an
/// empty list.
/// @code
/// mpiray::ObjectRef<double> total = mpiray::reduce(std::plus<>{}, partial);
/// @endcode
/// Thread-safety: may be called from any thread.
template <class Op, class T>
ObjectRef<T> reduce(Op op, std::vector<ObjectRef<T>> values) {
  if (values.empty()) throw std::invalid_argument("mpiray::reduce of an empty list of values");
  // Every level's refs are kept until the root exists: the runtime takes a task's hold on its
  // ObjectRef arguments only when its scheduler picks the submission up, not inside remote(),
  // so dropping an operand's last ref right after submitting could free it first.
  std::vector<ObjectRef<T>> keep;
  while (values.size() > 1) {
    std::vector<ObjectRef<T>> next;
    next.reserve(values.size() / 2 + 1);
    for (std::size_t i = 0; i + 1 < values.size(); i += 2)
      next.push_back(detail::combine_pair(op, values[i], values[i + 1]));
    if (values.size() % 2 == 1) next.push_back(values.back());
    keep.insert(keep.end(), values.begin(), values.end());
    values.swap(next);
  }
  if (!keep.empty()) detail::wait_objects({values.front().id()}, 1, std::nullopt);
  return values.front();
}

}  // namespace mpiray
