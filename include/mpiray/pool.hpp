#pragma once
/// @file
/// mpiray::Pool: Python's multiprocessing.Pool on the task runtime — map, imap, imap_unordered,
/// starmap, apply_async — with automatic chunking, on one process or on many ranks.
///
/// @code
/// int square(int x) { return x * x; }
/// int add(int a, int b) { return a + b; }
/// MPIRAY_REMOTE(square, add);
///
/// mpiray::Pool pool;                                       // every worker rank
/// std::vector<int> sq = pool.map(square, inputs);          // ordered, about 4 chunks per thread
/// auto sq2 = pool.map(square, inputs, /*chunksize=*/256);
/// for (int v : pool.imap(square, inputs)) use(v);          // in order, as chunks complete
/// for (int v : pool.imap_unordered(square, inputs)) use(v);
/// std::vector<int> sums = pool.starmap(add, std::vector<std::pair<int, int>>{{1, 2}, {3, 4}});
/// mpiray::ObjectRef<int> f = pool.apply_async(square, 7);
/// @endcode
///
/// How a job runs: the items are encoded on the calling rank into chunks of `chunksize` items
/// (default: ceil(n / (4 x worker threads)), as Python computes it per worker process); each
/// chunk is one task. A chunk's items run one after another on one thread of the rank that
/// received it; the threads of a rank work on different chunks, so with the default chunking
/// every thread of every worker rank is busy. Pass a smaller chunksize for uneven item costs.
/// Chunks are submitted as soon as they are encoded, so workers start before the last item is
/// encoded. A failing item stops its chunk; the error (mpiray::TaskError) names the item's index
/// in the input ("item 17: ...") and is raised by map at that chunk, by imap when iteration
/// reaches it. Long jobs draw a progress bar on the driver's stderr (see MPIRAY_PROGRESS).
/// Thread-safety: a Pool holds no state besides its size; its functions may be called from
/// several threads (and from inside tasks) at once. A ResultStream is used by one thread.

#include <atomic>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpiray/detail/chunk.hpp"
#include "mpiray/errors.hpp"
#include "mpiray/object_ref.hpp"
#include "mpiray/remote.hpp"
#include "mpiray/runtime.hpp"

namespace mpiray {
namespace detail {

/// Round-robin counter for calls pinned to a subset of ranks.
inline std::atomic<std::size_t>& pool_round_robin() {
  static std::atomic<std::size_t> n{0};
  return n;
}

}  // namespace detail

/// Results of Pool::imap / imap_unordered: an input range (use it in a range-for, or call
/// next()). Results are decoded one chunk at a time as chunks complete; a failed chunk throws
/// its TaskError from begin(), operator++ or next(), and iteration may then continue with the
/// following chunks, as in Python.
/// @code
/// for (int v : pool.imap(square, inputs)) std::cout << v << '\n';
/// auto s = pool.imap_unordered(square, inputs);
/// while (std::optional<int> v = s.next()) total += *v;
/// @endcode
/// Thread-safety: one thread consumes a stream; the stream must outlive its iterators.
template <class R>
class ResultStream {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    using pointer = const R*;
    using reference = const R&;
    iterator() = default;
    explicit iterator(ResultStream* s) : s_(s) {}
    const R& operator*() const { return s_->current(); }
    const R* operator->() const { return &s_->current(); }
    iterator& operator++() {
      s_->advance();
      return *this;
    }
    void operator++(int) { s_->advance(); }
    bool operator==(const iterator& o) const { return at_end() == o.at_end(); }
    bool operator!=(const iterator& o) const { return !(*this == o); }

   private:
    bool at_end() const { return s_ == nullptr || s_->exhausted(); }
    ResultStream* s_ = nullptr;
  };

  explicit ResultStream(detail::ChunkCollector c) : col_(std::move(c)) {}
  ResultStream(ResultStream&&) noexcept = default;
  ResultStream& operator=(ResultStream&&) noexcept = default;

  /// Waits for the first chunk and returns an iterator to its first result.
  iterator begin() {
    ensure();
    return iterator(this);
  }
  iterator end() { return iterator(); }
  /// The next result, or std::nullopt once every item was returned.
  std::optional<R> next() {
    ensure();
    if (end_) return std::nullopt;
    std::optional<R> v(std::move(buf_[pos_].v));
    step();
    return v;
  }
  /// Number of items in the job.
  std::size_t size() const { return col_.total(); }

 private:
  struct Slot {
    R v;
  };
  // Loads the next chunk if the current one is used up (lazily: only when a result is wanted).
  void ensure() {
    if (!need_load_) return;
    buf_.clear();
    pos_ = 0;
    std::size_t c = 0;
    detail::ObjectPtr d;
    if (!col_.next(c, d)) {  // throws a failed chunk's error; the next call moves past it
      end_ = true;
      need_load_ = false;
      return;
    }
    buf_.reserve(col_.count_of(c));
    detail::decode_chunk<R>(*d, col_.first(c), col_.count_of(c),
                            [&](std::uint64_t, R&& v) { buf_.push_back(Slot{std::move(v)}); });
    need_load_ = false;
  }
  void step() {
    if (++pos_ >= buf_.size()) need_load_ = true;
  }
  void advance() {
    if (need_load_) {
      ensure();  // after a failed chunk: ++ moves on to the next one
      return;
    }
    if (!end_) step();
  }
  bool exhausted() {
    ensure();
    return end_;
  }
  const R& current() {
    ensure();
    return buf_[pos_].v;
  }

  detail::ChunkCollector col_;
  std::vector<Slot> buf_;
  std::size_t pos_ = 0;
  bool need_load_ = true;
  bool end_ = false;
};

/// A pool of worker processes, as in Python's multiprocessing.Pool: the worker ranks of the job
/// (or its one process when run without mpirun).
/// @code
/// mpiray::Pool pool;        // all worker ranks
/// mpiray::Pool two(2);      // chunks pinned round-robin to worker ranks 1 and 2
/// std::vector<double> r = pool.map(simulate, seeds);
/// @endcode
/// Functions must be registered with MPIRAY_REMOTE (plain functions; no lambdas). A Pool may be
/// constructed before mpiray::run; its size is looked up at each call.
/// Thread-safety: all member functions may be called concurrently.
class Pool {
 public:
  /// Uses every worker rank; the runtime's scheduler balances chunks between them.
  Pool() = default;
  /// Uses worker ranks 1..n (all of them if n >= their number): chunks are pinned round-robin.
  explicit Pool(int processes) : requested_(processes) {
    if (processes < 1)
      throw ConfigError("mpiray: Pool(" + std::to_string(processes) +
                        ") needs at least 1 process; use Pool() for every worker rank");
  }

  /// Worker ranks this pool uses (1 in a one-process run, 0 outside mpiray::run).
  int processes() const {
    if (!detail::runtime_active()) return requested_;
    const int w = world_size() == 1 ? 1 : num_workers();
    return requested_ > 0 && requested_ < w ? requested_ : w;
  }
  /// Task threads across those ranks (ranks are assumed to have this rank's thread count).
  int threads() const { return processes() * (num_threads() > 0 ? num_threads() : 1); }
  /// The default chunk size for n items: ceil(n / (4 * threads())), at least 1.
  std::size_t default_chunksize(std::size_t n) const {
    const std::size_t parts = 4 * static_cast<std::size_t>(threads() > 0 ? threads() : 1);
    return n == 0 ? 1 : (n + parts - 1) / parts;
  }

  /// f applied to every item, results in input order. chunksize 0 picks default_chunksize(n).
  /// Throws the first failing chunk's TaskError ("item <index>: ...").
  template <class F, class Range>
  auto map(F f, const Range& items, std::size_t chunksize = 0) const {
    using R = typename detail::FnSig<F>::Result;
    check_unary<F>();
    return collect<R>(submit<false>(f, items, chunksize, "map"));
  }
  template <class F, class T>
  auto map(F f, std::initializer_list<T> items, std::size_t chunksize = 0) const {
    return map(f, std::vector<T>(items), chunksize);
  }

  /// As map, but returns at once; iterate the results in input order as chunks complete.
  template <class F, class Range>
  ResultStream<typename detail::FnSig<F>::Result> imap(F f, const Range& items,
                                                       std::size_t chunksize = 0) const {
    check_unary<F>();
    return ResultStream<typename detail::FnSig<F>::Result>(
        detail::ChunkCollector(submit<false>(f, items, chunksize, "imap"), /*ordered=*/true));
  }

  /// As imap, but chunks come in the order they complete (items keep their order inside a chunk).
  template <class F, class Range>
  ResultStream<typename detail::FnSig<F>::Result> imap_unordered(F f, const Range& items,
                                                                 std::size_t chunksize = 0) const {
    check_unary<F>();
    return ResultStream<typename detail::FnSig<F>::Result>(detail::ChunkCollector(
        submit<false>(f, items, chunksize, "imap_unordered"), /*ordered=*/false));
  }

  /// Like map, each item a tuple (std::tuple, std::pair, std::array) spread over f's parameters.
  template <class F, class Range>
  auto starmap(F f, const Range& items, std::size_t chunksize = 0) const {
    using R = typename detail::FnSig<F>::Result;
    check_fn<F>();
    static_assert(!std::is_void_v<R>, "mpiray: Pool::starmap needs a function that returns a value");
    return collect<R>(submit<true>(f, items, chunksize, "starmap"));
  }

  /// One call of f(args...) as a task; returns its future. ObjectRef arguments are allowed.
  template <class F, class... A>
  auto apply_async(F f, A&&... args) const {
    check_fn<F>();
    auto b = task(f);
    const std::vector<int> p = pins();
    if (!p.empty()) b.on_rank(p[detail::pool_round_robin().fetch_add(1) % p.size()]);
    return b.remote(std::forward<A>(args)...);
  }

 private:
  template <class F>
  static constexpr void check_fn() {
    static_assert(detail::kIsRemoteFnPtr<F>,
                  "mpiray: Pool takes a function registered with MPIRAY_REMOTE (a plain or static "
                  "member function; lambdas and functors cannot be called remotely)");
  }
  template <class F>
  static constexpr void check_unary() {
    check_fn<F>();
    if constexpr (detail::kIsRemoteFnPtr<F>) {
      static_assert(detail::FnSig<F>::arity == 1,
                    "mpiray: Pool::map/imap take a one-argument function; use starmap for more");
      static_assert(!std::is_void_v<typename detail::FnSig<F>::Result>,
                    "mpiray: Pool::map/imap need a function that returns a value; use "
                    "apply_async or mpiray::Process for side effects");
    }
  }

  std::vector<int> pins() const {
    if (!detail::runtime_active() || world_size() == 1) return {};
    const int w = num_workers();
    if (requested_ <= 0 || requested_ >= w) return {};
    std::vector<int> p;
    for (int r = 1; r <= requested_; ++r) p.push_back(r);
    return p;
  }

  template <bool Spread, class F, class Range>
  detail::ChunkSet submit(F f, const Range& items, std::size_t chunksize, const char* what) const {
    using Params = typename detail::FnSig<F>::Params;
    const detail::FunctionInfo& fn = detail::function_info(f);
    const auto n = static_cast<std::size_t>(std::distance(std::begin(items), std::end(items)));
    detail::ChunkSubmitter sub(fn, chunksize != 0 ? chunksize : default_chunksize(n), pins(),
                               std::string("mpiray ") + what + "(" + fn.name + ")");
    for (const auto& item : items) {
      if constexpr (Spread) {
        sub.add([&](detail::Writer& w) { detail::ItemEncoder<Params>::spread(w, item); });
      } else {
        sub.add([&](detail::Writer& w) { detail::ItemEncoder<Params>::one(w, item); });
      }
    }
    return sub.finish();
  }

  template <class R>
  static std::vector<R> collect(detail::ChunkSet set) {
    std::vector<R> out;
    out.reserve(set.total);
    detail::ChunkCollector col(std::move(set), /*ordered=*/true);
    std::size_t c = 0;
    detail::ObjectPtr d;
    while (col.next(c, d))
      detail::decode_chunk<R>(*d, col.first(c), col.count_of(c),
                              [&](std::uint64_t, R&& v) { out.push_back(std::move(v)); });
    return out;
  }

  int requested_ = 0;  // 0: every worker rank
};

}  // namespace mpiray
