#pragma once
// Actor classes shared by the actor test suites.

#include <mpiray/mpiray.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace actor_test {

class Counter {
 public:
  explicit Counter(int start) : n_(start) {}
  int add(int d) { return n_ += d; }
  int value() const { return n_; }
  int fail_after_add(int d) {
    n_ += d;  // the state change stays even though the call fails
    throw std::invalid_argument("refusing " + std::to_string(d));
  }
  int where() const { return mpiray::rank(); }

 private:
  int n_;
};

class Log {
 public:
  Log() = default;
  int append(int x) {
    items_.push_back(x);
    return static_cast<int>(items_.size());
  }
  std::vector<int> items() const { return items_; }

 private:
  std::vector<int> items_;
};

class Exploding {
 public:
  explicit Exploding(std::string why) { throw std::runtime_error("constructor refused: " + why); }
  int f() { return 1; }
};

/// Counts how many calls run at once; `meet` waits (bounded) until `want` calls are inside.
class Overlap {
 public:
  Overlap() = default;
  int meet(int want) {
    std::unique_lock<std::mutex> lk(mu_);
    ++inside_;
    peak_ = std::max(peak_, inside_);
    cv_.notify_all();
    const bool met = cv_.wait_for(lk, std::chrono::seconds(30), [&] { return peak_ >= want; });
    --inside_;
    return met ? peak_ : -1;
  }
  int touch() {
    std::lock_guard<std::mutex> lk(mu_);
    ++inside_;
    peak_ = std::max(peak_, inside_);
    const int p = peak_;
    --inside_;
    return p;
  }
  int peak() const { return peak_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  int peak_ = 0;
};

/// Holds another actor's handle and calls it from inside its own methods.
class Relay {
 public:
  explicit Relay(int id) : id_(id) {}
  int id() const { return id_; }
  int ask(mpiray::ActorHandle<Relay> other) {
    return other.task(&Relay::id).remote().get() * 10 + id_;
  }

 private:
  int id_;
};

/// Receives, keeps and makes ObjectRefs nested in values (arguments and results).
class Keeper {
 public:
  using Vec = std::vector<double>;
  Keeper() = default;
  double sum_all(std::vector<mpiray::ObjectRef<Vec>> refs) const { return total(refs); }
  int keep(std::vector<mpiray::ObjectRef<Vec>> refs) {
    kept_ = std::move(refs);
    return static_cast<int>(kept_.size());
  }
  double sum_kept() const { return total(kept_); }
  int drop() {
    kept_.clear();
    return 0;
  }
  std::vector<mpiray::ObjectRef<Vec>> make(int k, int n) const {
    std::vector<mpiray::ObjectRef<Vec>> out;
    for (int i = 0; i < k; ++i) out.push_back(mpiray::put(Vec(n, double(i + 1))));
    return out;
  }

 private:
  static double total(const std::vector<mpiray::ObjectRef<Vec>>& refs) {
    double s = 0;
    for (const auto& r : refs)
      for (double x : *r.view()) s += x;
    return s;
  }
  std::vector<mpiray::ObjectRef<Vec>> kept_;
};

/// Gets ObjectRefs through its constructor and keeps them.
class Holder {
 public:
  using Vec = std::vector<double>;
  explicit Holder(std::vector<mpiray::ObjectRef<Vec>> refs) : refs_(std::move(refs)) {}
  double sum() const {
    double s = 0;
    for (const auto& r : refs_)
      for (double x : *r.view()) s += x;
    return s;
  }

 private:
  std::vector<mpiray::ObjectRef<Vec>> refs_;
};

// Registrations live in the header: every test file that creates these actors needs
// MPIRAY_ACTOR's declaration, and registering the same class or method twice is harmless.
MPIRAY_ACTOR(Counter, int);
MPIRAY_ACTOR(Log);
MPIRAY_ACTOR(Exploding, std::string);
MPIRAY_ACTOR(Overlap);
MPIRAY_ACTOR(Relay, int);
MPIRAY_ACTOR(Keeper);
MPIRAY_ACTOR(Holder, std::vector<mpiray::ObjectRef<std::vector<double>>>);
MPIRAY_REMOTE(&Counter::add, &Counter::value, &Counter::fail_after_add, &Counter::where);
MPIRAY_REMOTE(&Log::append, &Log::items);
MPIRAY_REMOTE(&Exploding::f);
MPIRAY_REMOTE(&Overlap::meet, &Overlap::touch);
MPIRAY_REMOTE(&Relay::id, &Relay::ask);
MPIRAY_REMOTE(&Holder::sum);
MPIRAY_REMOTE(&Keeper::sum_all, &Keeper::keep, &Keeper::sum_kept, &Keeper::drop, &Keeper::make);

}  // namespace actor_test
