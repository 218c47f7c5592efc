// Parameter server (Ray's classic pattern): a ParameterServer actor holds the model; worker tasks
// read a snapshot of the weights, compute a gradient on their data shard and push it to the
// server. Linear regression by synchronous data-parallel gradient descent, checked against the
// same computation done serially.
//
//   mpirun -np 3 --oversubscribe ./build/apps/parameter_server [--dim D] [--shards S]
//                                                              [--samples N] [--iters T]

#include <mpiray/mpiray.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <vector>

namespace {

struct Options {
  int dim = 16;
  int shards = 8;
  int samples = 512;  // per shard
  int iters = 40;
  double lr = 0.1;
};

// The true model the data comes from: w*_j = 1 + j / dim.
double true_weight(int j, int dim) { return 1.0 + static_cast<double>(j) / dim; }

// Shard k's data, generated the same way on any rank (no data movement needed for inputs).
void shard_data(int shard, int dim, int samples, std::vector<double>& x, std::vector<double>& y) {
  std::mt19937_64 rng(1234567u + 7919u * static_cast<unsigned>(shard));
  std::normal_distribution<double> n01(0.0, 1.0);
  x.assign(static_cast<std::size_t>(samples) * dim, 0.0);
  y.assign(samples, 0.0);
  for (int i = 0; i < samples; ++i) {
    double t = 0;
    for (int j = 0; j < dim; ++j) {
      const double v = n01(rng);
      x[static_cast<std::size_t>(i) * dim + j] = v;
      t += v * true_weight(j, dim);
    }
    y[i] = t + 0.01 * n01(rng);
  }
}

// Mean-squared-error gradient of shard `shard` at weights `w`.
std::vector<double> shard_gradient(const std::vector<double>& w, int shard, int samples) {
  const int dim = static_cast<int>(w.size());
  std::vector<double> x, y;
  shard_data(shard, dim, samples, x, y);
  std::vector<double> g(dim, 0.0);
  for (int i = 0; i < samples; ++i) {
    double err = -y[i];
    for (int j = 0; j < dim; ++j) err += x[static_cast<std::size_t>(i) * dim + j] * w[j];
    for (int j = 0; j < dim; ++j) g[j] += err * x[static_cast<std::size_t>(i) * dim + j];
  }
  for (double& v : g) v /= samples;
  return g;
}

class ParameterServer {
 public:
  ParameterServer(int dim, double lr, int shards) : w_(dim, 0.0), lr_(lr), shards_(shards) {}
  std::vector<double> weights() const { return w_; }
  // Gradients of one iteration are summed in shard order once all have arrived, so the result
  // does not depend on which worker finished first.
  int push(int shard, std::vector<double> g) {
    pending_[shard] = std::move(g);
    if (static_cast<int>(pending_.size()) == shards_) {
      for (auto& [k, grad] : pending_)
        for (std::size_t j = 0; j < w_.size(); ++j) w_[j] -= lr_ * grad[j] / shards_;
      pending_.clear();
      ++version_;
    }
    return version_;
  }
  int version() const { return version_; }

 private:
  std::vector<double> w_;
  double lr_;
  int shards_;
  int version_ = 0;
  std::map<int, std::vector<double>> pending_;
};
MPIRAY_ACTOR(ParameterServer, int, double, int);
MPIRAY_REMOTE(&ParameterServer::weights, &ParameterServer::push, &ParameterServer::version);

// A worker step: gradient on its shard at the snapshot, pushed straight to the server actor.
int worker_step(mpiray::ActorHandle<ParameterServer> ps, std::vector<double> w, int shard,
                int samples) {
  return ps.task(&ParameterServer::push).remote(shard, shard_gradient(w, shard, samples)).get();
}
MPIRAY_REMOTE(worker_step);

int arg(int argc, char** argv, const char* name, int dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  return dflt;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "parameter_server: data-parallel linear regression with a parameter-server "
                 "actor\nusage: parameter_server [--dim D] [--shards S] [--samples N] [--iters T]\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  Options o;
  o.dim = arg(argc, argv, "--dim", o.dim);
  o.shards = arg(argc, argv, "--shards", o.shards);
  o.samples = arg(argc, argv, "--samples", o.samples);
  o.iters = arg(argc, argv, "--iters", o.iters);
  if (o.dim < 1 || o.shards < 1 || o.samples < 1 || o.iters < 1) {
    std::cerr << "parameter_server: --dim, --shards, --samples and --iters must be positive\n";
    return 2;
  }
  return mpiray::run(argc, argv, [&] {
    auto ps = mpiray::actor<ParameterServer>(o.dim, o.lr, o.shards).name("ps").remote();
    for (int t = 0; t < o.iters; ++t) {
      auto snapshot = ps.task(&ParameterServer::weights).remote();  // resolved in each task
      std::vector<mpiray::ObjectRef<int>> steps;
      for (int k = 0; k < o.shards; ++k)
        steps.push_back(mpiray::task(worker_step).remote(ps, snapshot, k, o.samples));
      mpiray::get(steps);
    }
    const std::vector<double> w = mpiray::get_actor<ParameterServer>("ps")
                                      .task(&ParameterServer::weights).remote().get();

    // The same iterations serially.
    std::vector<double> ws(o.dim, 0.0);
    for (int t = 0; t < o.iters; ++t) {
      std::vector<std::vector<double>> grads;
      for (int k = 0; k < o.shards; ++k) grads.push_back(shard_gradient(ws, k, o.samples));
      for (auto& g : grads)
        for (int j = 0; j < o.dim; ++j) ws[j] -= o.lr * g[j] / o.shards;
    }
    double diff = 0, err = 0;
    for (int j = 0; j < o.dim; ++j) {
      diff = std::max(diff, std::fabs(w[j] - ws[j]));
      err = std::max(err, std::fabs(w[j] - true_weight(j, o.dim)));
    }
    const int version = ps.task(&ParameterServer::version).remote().get();
    std::cout << "parameter_server: " << o.iters << " iterations x " << o.shards << " shards on "
              << mpiray::num_workers() << " worker rank(s); server version " << version << "\n"
              << "max |w - serial w| = " << diff << ", max |w - w*| = " << err << "\n";
    const bool ok = version == o.iters && diff < 1e-12 && (o.iters < 40 || err < 0.05);
    std::cout << (ok ? "parameter_server: OK" : "parameter_server: FAILED") << std::endl;
    return ok ? 0 : 1;
  });
}
