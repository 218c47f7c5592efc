// Function registry: filled during static initialisation, read-only once run() starts.

#include "mpiray/detail/registry.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <typeindex>
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
  std::unordered_map<std::string, MethodInfo*> methods_by_key;
  std::unordered_map<std::uint64_t, MethodInfo*> methods_by_id;
  std::vector<std::unique_ptr<MethodInfo>> owned_methods;
  std::unordered_map<std::type_index, ActorClassInfo*> classes_by_type;
  std::unordered_map<std::uint64_t, ActorClassInfo*> classes_by_id;
  std::vector<std::unique_ptr<ActorClassInfo>> owned_classes;
  // Every name with its signature, for the cross-rank hash (ordered).
  std::map<std::string, std::string> signatures;
};

Registry& registry() {
  static Registry r;  // function-local: safe to use from other translation units' static init
  return r;
}

}  // namespace

bool register_function(const void* key, std::string name, Invoker invoke, std::string signature,
                       std::uint64_t result_tag) {
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
  info->result_tag = result_tag;
  info->signature = std::move(signature);
  r.by_key[key] = info.get();
  r.by_id[id] = info.get();
  r.by_name[info->name] = info.get();
  r.signatures["f:" + info->name] = info->signature;
  r.owned.push_back(std::move(info));
  return true;
}

bool register_method(std::string key, std::string name, MethodInvoker invoke,
                     const std::type_info& cls, std::string signature, std::uint64_t result_tag) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  if (r.methods_by_key.count(key)) return true;
  const std::uint64_t id = fnv1a("method:" + name);
  if (r.methods_by_id.count(id))
    throw RegistrationError("mpiray: two different methods are registered as '" + name + "'");
  auto info = std::make_unique<MethodInfo>();
  info->name = std::move(name);
  info->id = id;
  info->invoke = invoke;
  info->result_tag = result_tag;
  info->cls = &cls;
  r.methods_by_key[key] = info.get();
  r.methods_by_id[id] = info.get();
  r.signatures["m:" + info->name] = std::move(signature);
  r.owned_methods.push_back(std::move(info));
  return true;
}

const MethodInfo& lookup_method(const std::string& key, const char* what) {
  Registry& r = registry();
  auto it = r.methods_by_key.find(key);
  if (it == r.methods_by_key.end())
    throw RegistrationError(std::string("mpiray: this actor method is not registered for remote "
                                        "calls; add MPIRAY_REMOTE(&") +
                            what + "::method) at namespace scope");
  return *it->second;
}

const MethodInfo* find_method(std::uint64_t id) noexcept {
  Registry& r = registry();
  auto it = r.methods_by_id.find(id);
  return it == r.methods_by_id.end() ? nullptr : it->second;
}

bool register_actor_class(std::string name, ActorFactory construct, const std::type_info& cls,
                          std::string signature) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  if (r.classes_by_type.count(std::type_index(cls))) return true;
  const std::uint64_t id = fnv1a("actor:" + name);
  if (r.classes_by_id.count(id))
    throw RegistrationError("mpiray: two actor classes are registered as '" + name + "'");
  auto info = std::make_unique<ActorClassInfo>();
  info->name = std::move(name);
  info->id = id;
  info->construct = construct;
  info->cls = &cls;
  r.classes_by_type[std::type_index(cls)] = info.get();
  r.classes_by_id[id] = info.get();
  r.signatures["a:" + info->name] = std::move(signature);
  r.owned_classes.push_back(std::move(info));
  return true;
}

const ActorClassInfo& lookup_actor_class(const std::type_info& cls) {
  Registry& r = registry();
  auto it = r.classes_by_type.find(std::type_index(cls));
  if (it == r.classes_by_type.end())
    throw RegistrationError("mpiray: this class is not registered as an actor; add "
                            "MPIRAY_ACTOR(Class, constructor argument types...) at namespace scope");
  return *it->second;
}

const ActorClassInfo* find_actor_class(std::uint64_t id) noexcept {
  Registry& r = registry();
  auto it = r.classes_by_id.find(id);
  return it == r.classes_by_id.end() ? nullptr : it->second;
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
  for (const auto& [name, signature] : r.signatures) {
    h = fnv1a(name, h);
    h = fnv1a("\x1f", h);
    h = fnv1a(signature, h);
    h = fnv1a("\x1e", h);
  }
  return h;
}

std::size_t registry_size() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  return r.signatures.size();
}

}  // namespace mpiray::detail
