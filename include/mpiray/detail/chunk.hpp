#pragma once
// Chunked execution of any registered function, for mpiray::Pool.
//
// One generic remote function, pool_run_chunk, runs a chunk of items of any function registered
// with MPIRAY_REMOTE: it receives the function's wire id and a blob of argument blocks (each
// encoded exactly as a task's arguments: u32 count, then per argument u8 ArgKind::kValue and a
// u32-length segment), calls the function's invoker once per block and returns a blob of results
// (per item a u32 length and the encoded result). So Pool needs no per-function registration.
//
// Task arguments of a chunk: (ChunkHeader, std::string blob); its result: std::string blob.
// A chunk runs on one thread of one rank; a Pool makes about 4 chunks per worker thread, so the
// threads of a rank work on different chunks in parallel.

#include <cxxabi.h>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/codec.hpp"
#include "mpiray/detail/core.hpp"
#include "mpiray/detail/progress.hpp"
#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "mpiray/object_ref.hpp"
#include "mpiray/remote.hpp"
#include "mpiray/runtime.hpp"

namespace mpiray::detail {

/// First argument of a chunk task (travels as plain bytes).
struct ChunkHeader {
  std::uint64_t func = 0;   // wire id of the user's function
  std::uint64_t first = 0;  // global index of the chunk's first item
  std::uint32_t count = 0;  // items in the chunk
  std::uint32_t reserved = 0;
};

/// Index of the first item of the chunk running on this thread (~0 outside chunks). For tests
/// and diagnostics.
inline std::uint64_t& current_chunk_first() {
  thread_local std::uint64_t first = ~std::uint64_t{0};
  return first;
}

/// Readable form of a type's mangled name.
inline std::string readable_type_name(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = (status == 0 && s) ? s : mangled;
  std::free(s);
  return out;
}

/// Demangled type of the exception being handled (inside a catch block).
inline std::string current_exception_type_name() {
  const std::type_info* t = abi::__cxa_current_exception_type();
  return t ? readable_type_name(t->name()) : "unknown exception";
}

/// The chunk task: runs `h.count` argument blocks of function `h.func` in order on this thread.
/// The first failing item stops the chunk with a TaskError naming the item's global index.
inline std::string pool_run_chunk(ChunkHeader h, std::string items) {
  const FunctionInfo* fn = find_function(h.func);
  if (!fn)
    throw RegistrationError("mpiray: pool chunk for function id " + std::to_string(h.func) +
                            " which is not registered on this rank; run the same binary everywhere");
  struct ChunkScope {  // nested pools (a helping get() may run another chunk here) restore it
    std::uint64_t saved;
    explicit ChunkScope(std::uint64_t first) : saved(current_chunk_first()) {
      current_chunk_first() = first;
    }
    ~ChunkScope() { current_chunk_first() = saved; }
  } scope(h.first);
  Reader in(items);
  Writer out(static_cast<std::size_t>(h.count) * 16 + 16);
  for (std::uint32_t i = 0; i < h.count; ++i) {
    const std::size_t at = out.begin_len();
    try {
      fn->invoke(in, out);
    } catch (const TaskError& e) {  // a nested task of the item failed: keep its origin
      throw TaskError(e.function(), e.rank(), e.type(),
                      "item " + std::to_string(h.first + i) + ": " + e.message());
    } catch (const std::exception& e) {
      throw TaskError(fn->name, current_rank(), current_exception_type_name(),
                      "item " + std::to_string(h.first + i) + ": " + e.what());
    } catch (...) {
      throw TaskError(fn->name, current_rank(), current_exception_type_name(),
                      "item " + std::to_string(h.first + i) + ": a non-standard exception was thrown");
    }
    out.end_len(at);
  }
  if (!in.done())
    throw std::runtime_error("mpiray: pool chunk has " + std::to_string(in.remaining()) +
                             " bytes left after its items; sender and receiver disagree");
  return std::string(out.data(), out.size());
}

}  // namespace mpiray::detail

MPIRAY_REMOTE(mpiray::detail::pool_run_chunk);

namespace mpiray::detail {

// ---- function signatures (plain and noexcept function pointers)
template <class F>
inline constexpr bool kIsRemoteFnPtr = false;
template <class R, class... P>
inline constexpr bool kIsRemoteFnPtr<R (*)(P...)> = true;
template <class R, class... P>
inline constexpr bool kIsRemoteFnPtr<R (*)(P...) noexcept> = true;

template <class F>
struct FnSig;
template <class R, class... P>
struct FnSig<R (*)(P...)> {
  using Result = std::decay_t<R>;
  using Ptr = R (*)(P...);
  using Params = std::tuple<P...>;
  static constexpr std::size_t arity = sizeof...(P);
  template <std::size_t I>
  using Arg = std::tuple_element_t<I, std::tuple<P...>>;
};
template <class R, class... P>
struct FnSig<R (*)(P...) noexcept> : FnSig<R (*)(P...)> {};

/// The registry entry of a function pointer (plain or noexcept); RegistrationError if missing.
template <class F>
const FunctionInfo& function_info(F f) {
  return lookup_function(reinterpret_cast<const void*>(f));
}

/// Appends one item's argument block: u32 count, then each argument as a value segment.
template <class... P, class... A>
void encode_item(Writer& w, const A&... a) {
  static_assert(sizeof...(P) == sizeof...(A), "mpiray: wrong number of arguments for this function");
  static_assert((!IsObjectRef<std::decay_t<A>>::value && ...),
                "mpiray: Pool items must be values; get() ObjectRefs first or submit tasks");
  w.put<std::uint32_t>(static_cast<std::uint32_t>(sizeof...(A)));
  (encode_one_arg<P>(w, a), ...);
}

template <class Tuple>
struct ItemEncoder;
template <class... P>
struct ItemEncoder<std::tuple<P...>> {
  /// One argument per item (map).
  template <class A>
  static void one(Writer& w, const A& a) {
    encode_item<P...>(w, a);
  }
  /// A tuple-like item spread over the parameters (starmap).
  template <class T>
  static void spread(Writer& w, const T& t) {
    static_assert(std::tuple_size_v<std::decay_t<T>> == sizeof...(P),
                  "mpiray: starmap items must have one element per function parameter");
    std::apply([&](const auto&... a) { encode_item<P...>(w, a...); }, t);
  }
};

/// Chunks submitted for one Pool job, in item order.
struct ChunkSet {
  std::vector<ObjectRef<std::string>> refs;
  std::vector<std::uint64_t> first;
  std::vector<std::uint32_t> count;
  std::size_t total = 0;
  std::string label;
};

/// Builds chunk tasks item by item and submits each chunk as soon as it is full.
/// Thread-safety: none; used by one thread for one job.
class ChunkSubmitter {
 public:
  /// A chunk's blob is cut at this size even below chunksize (values are limited to 4 GiB).
  static constexpr std::size_t kMaxChunkBytes = std::size_t{64} << 20;

  ChunkSubmitter(const FunctionInfo& fn, std::size_t chunksize, std::vector<int> pins,
                 std::string label)
      : fn_(fn), chunksize_(chunksize == 0 ? 1 : chunksize), pins_(std::move(pins)) {
    set_.label = std::move(label);
    chunk_fn_ = lookup_function(reinterpret_cast<const void*>(&pool_run_chunk)).id;
  }

  template <class Encode>
  void add(Encode&& encode) {
    if (count_ == 0) open();
    encode(w_);
    ++count_;
    if (count_ >= chunksize_ || w_.size() - blob_start_ >= kMaxChunkBytes) flush();
  }

  ChunkSet finish() {
    if (count_ > 0) flush();
    return std::move(set_);
  }

 private:
  void open() {
    w_.clear();
    // Reserve from the previous chunk's size: one allocation per chunk in steady state.
    w_.bytes().reserve(last_bytes_ + 64);
    w_.put<std::uint32_t>(2);
    w_.put(ArgKind::kValue);
    w_.put<std::uint32_t>(sizeof(ChunkHeader));
    header_at_ = w_.size();
    w_.put(ChunkHeader{});
    w_.put(ArgKind::kValue);
    blob_len_at_ = w_.begin_len();
    blob_start_ = w_.size();
  }

  void flush() {
    ChunkHeader h;
    h.func = fn_.id;
    h.first = next_first_;
    h.count = static_cast<std::uint32_t>(count_);
    std::memcpy(w_.data() + header_at_, &h, sizeof h);
    w_.end_len(blob_len_at_);
    last_bytes_ = w_.size();
    TaskSubmission t;
    t.func_id = chunk_fn_;
    t.args.assign(w_.data(), w_.size());
    if (!pins_.empty()) t.pin = pins_[set_.refs.size() % pins_.size()];
    t.name = fn_.name;
    set_.refs.push_back(ObjectRef<std::string>::adopt(submit_task(std::move(t))));
    set_.first.push_back(next_first_);
    set_.count.push_back(h.count);
    set_.total += count_;
    next_first_ += count_;
    count_ = 0;
  }

  const FunctionInfo& fn_;
  std::uint64_t chunk_fn_ = 0;
  std::size_t chunksize_;
  std::vector<int> pins_;
  Writer w_;
  std::size_t header_at_ = 0, blob_len_at_ = 0, blob_start_ = 0, last_bytes_ = 0;
  std::size_t count_ = 0;
  std::uint64_t next_first_ = 0;
  ChunkSet set_;
};

/// Hands out completed chunks, in item order or in completion order, and keeps the progress bar.
/// A failed chunk rethrows its TaskError (which names the failing item's index).
/// Thread-safety: none; one consumer.
class ChunkCollector {
 public:
  ChunkCollector() = default;
  ChunkCollector(ChunkSet set, bool ordered)
      : set_(std::move(set)), ordered_(ordered), counted_(set_.refs.size(), 0) {
    if (set_.total > 0) bar_ = ProgressBar(set_.label, set_.total);
    if (!ordered_)
      for (std::size_t i = 0; i < set_.refs.size(); ++i) pending_.push_back(i);
  }

  std::size_t total() const { return set_.total; }
  std::size_t chunks() const { return set_.refs.size(); }

  /// Next chunk: its index and completed data (whose bytes are the results blob). False at the
  /// end. Throws the chunk's TaskError if it failed.
  bool next(std::size_t& chunk, ObjectPtr& data) {
    if (ordered_) {
      if (next_ >= set_.refs.size()) return done();
      chunk = next_++;
      const ObjectId id = set_.refs[chunk].id();
      if (bar_.active()) {
        const std::vector<ObjectId> one{id};
        while (!wait_objects(one, 1, Clock::now() + ProgressBar::tick())[0]) scan_ordered();
      }
      data = get_object(id, std::nullopt);
    } else {
      if (ready_.empty()) {
        if (pending_.empty()) return done();
        fill_ready();
      }
      chunk = ready_.front();
      ready_.pop_front();
      data = get_object(set_.refs[chunk].id(), std::nullopt);
    }
    if (data->failed()) throw_task_error(*data->error);
    count(chunk);
    bar_.update(done_items_);
    set_.refs[chunk] = ObjectRef<std::string>();  // the caller holds the data; free the object
    return true;
  }

  std::uint64_t first(std::size_t chunk) const { return set_.first[chunk]; }
  std::uint32_t count_of(std::size_t chunk) const { return set_.count[chunk]; }

 private:
  bool done() {
    bar_.finish();
    return false;
  }
  void count(std::size_t c) {
    if (counted_[c]) return;
    counted_[c] = 1;
    done_items_ += set_.count[c];
  }
  // Progress only: counts chunks that finished out of order while we wait for the next one.
  void scan_ordered() {
    std::vector<ObjectId> ids;
    std::vector<std::size_t> which;
    for (std::size_t c = next_; c < set_.refs.size(); ++c)
      if (!counted_[c]) {
        ids.push_back(set_.refs[c].id());
        which.push_back(c);
      }
    if (!ids.empty()) {
      const std::vector<char> f = wait_objects(ids, ids.size(), Clock::now());
      for (std::size_t k = 0; k < f.size(); ++k)
        if (f[k]) count(which[k]);
    }
    bar_.update(done_items_);
  }
  void fill_ready() {
    std::vector<ObjectId> ids;
    for (std::size_t c : pending_) ids.push_back(set_.refs[c].id());
    for (;;) {
      const Deadline until =
          bar_.active() ? Deadline(Clock::now() + ProgressBar::tick()) : std::nullopt;
      std::vector<char> f = wait_objects(ids, 1, until);
      bool any = false;
      for (char x : f) any = any || x;
      if (any) {
        f = wait_objects(ids, ids.size(), Clock::now());  // everything else that is ready too
        std::vector<std::size_t> still;
        for (std::size_t k = 0; k < f.size(); ++k) {
          if (f[k]) {
            ready_.push_back(pending_[k]);
          } else {
            still.push_back(pending_[k]);
          }
        }
        pending_.swap(still);
        return;
      }
      bar_.update(done_items_);
    }
  }

  ChunkSet set_;
  bool ordered_ = true;
  std::vector<char> counted_;
  std::size_t next_ = 0;
  std::size_t done_items_ = 0;
  std::vector<std::size_t> pending_;
  std::deque<std::size_t> ready_;
  ProgressBar bar_;
};

/// Decodes a chunk's results blob, calling `sink(index, value)` per item.
template <class R, class Sink>
void decode_chunk(const ObjectData& d, std::uint64_t first, std::uint32_t count, Sink&& sink) {
  Reader r(d.bytes);
  for (std::uint32_t i = 0; i < count; ++i) sink(first + i, Codec<R>::decode(r.get_bytes()));
  if (!r.done())
    throw std::runtime_error("mpiray: pool chunk returned more bytes than its " +
                             std::to_string(count) + " results");
}

}  // namespace mpiray::detail
