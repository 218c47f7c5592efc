// Function registry: filled during static initialisation, read-only once run() starts.

#include "mpiray/detail/registry.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "mpiray/errors.hpp"

namespace mpiray::detail {
namespace {

struct Registry {
  std::mutex mu;  // only registration takes it; lookups happen after static initialisation
  std::unordered_map<const void*, FunctionInfo*> by_key;
  std::unordered_map<std::uint64_t, FunctionInfo*> by_id;
  std::map<std::string, FunctionInfo*> by_name;  // ordered: the hash must not depend on insert order
  std::vector<std::unique_ptr<FunctionInfo>> owned;
};

Registry& registry() {
  static Registry r;  // function-local: safe to use from other translation units' static init
  return r;
}

}  // namespace

bool register_function(const void* key, std::string name, Invoker invoke, std::string signature) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  if (auto it = r.by_key.find(key); it != r.by_key.end()) return true;  // same function twice
  const std::uint64_t id = fnv1a(name);
  if (auto it = r.by_id.find(id); it != r.by_id.end())
    throw RegistrationError("mpiray: two different functions are registered as '" + name +
                            "' (or their names collide); give one of them another name");
  auto info = std::make_unique<FunctionInfo>();
  info->name = std::move(name);
  info->id = id;
  info->invoke = invoke;
  info->signature = std::move(signature);
  r.by_key[key] = info.get();
  r.by_id[id] = info.get();
  r.by_name[info->name] = info.get();
  r.owned.push_back(std::move(info));
  return true;
}

const FunctionInfo& lookup_function(const void* key) {
  Registry& r = registry();
  auto it = r.by_key.find(key);
  if (it == r.by_key.end())
    throw RegistrationError(
        "mpiray: this function is not registered for remote calls; add MPIRAY_REMOTE(<function>) "
        "at namespace scope next to its definition");
  return *it->second;
}

const FunctionInfo* find_function(std::uint64_t id) noexcept {
  Registry& r = registry();
  auto it = r.by_id.find(id);
  return it == r.by_id.end() ? nullptr : it->second;
}

std::uint64_t registry_hash() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  std::uint64_t h = fnv1a("mpiray-registry-v1");
  for (const auto& [name, info] : r.by_name) {
    h = fnv1a(name, h);
    h = fnv1a("\x1f", h);
    h = fnv1a(info->signature, h);
    h = fnv1a("\x1e", h);
  }
  return h;
}

std::size_t registry_size() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  return r.by_name.size();
}

}  // namespace mpiray::detail
