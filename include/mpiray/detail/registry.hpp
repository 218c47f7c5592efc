#pragma once
// Remote-function registry: functions are registered by stable name (MPIRAY_REMOTE), identified
// on the wire by a 64-bit hash of that name, never by address or registration order.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/codec.hpp"
#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

/// Decodes the arguments in `args`, runs the function and appends the encoded result to `out`.
/// User exceptions propagate to the caller (the executor turns them into TaskErrors).
using Invoker = void (*)(Reader& args, Writer& out);

struct FunctionInfo {
  std::string name;
  std::uint64_t id = 0;
  Invoker invoke = nullptr;
  std::uint64_t result_tag = 0;  // type tag of the result (0 for void)
  std::string signature;  // for the registry hash: ranks with other signatures must not match
};

/// FNV-1a, 64 bit: stable across builds and ranks.
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// Registers a function; throws RegistrationError on a name clash between different functions.
bool register_function(const void* key, std::string name, Invoker invoke, std::string signature,
                       std::uint64_t result_tag = 0);
/// The function registered for `key` (a function address), or throws RegistrationError naming
/// the fix (MPIRAY_REMOTE).
const FunctionInfo& lookup_function(const void* key);
/// The function for a wire id; nullptr when unknown.
const FunctionInfo* find_function(std::uint64_t id) noexcept;
/// Hash over every registered name and signature; equal on ranks running the same binary.
std::uint64_t registry_hash();
std::size_t registry_size();

// How an argument travels: its bytes (kValue), an object id still to resolve (kRef, rank 0
// resolves it), or an object the executor fetches from the rank holding it
// (kRemote: u64 id, i32 holder, u64 size).
enum class ArgKind : std::uint8_t { kValue = 0, kRef = 1, kRemote = 2 };

/// Skips one encoded argument of `kind` (read after its kind byte): a kRef's id, a kRemote's
/// location or a kValue's bytes.
inline void skip_encoded_arg(Reader& r, ArgKind kind) {
  if (kind == ArgKind::kRef) {
    r.get<std::uint64_t>();
  } else if (kind == ArgKind::kRemote) {
    r.get<std::uint64_t>();
    r.get<std::int32_t>();
    r.get<std::uint64_t>();
  } else {
    r.get_bytes();
  }
}

/// Copies one encoded argument of `kind` (read after its kind byte) that is not a kRef:
/// kValue (str bytes) or kRemote (u64 object, i32 holder, u64 size).
inline void copy_encoded_arg(Reader& r, ArgKind kind, Writer& w) {
  w.put(kind);
  if (kind == ArgKind::kRemote) {
    w.put(r.get<std::uint64_t>());
    w.put(r.get<std::int32_t>());
    w.put(r.get<std::uint64_t>());
  } else {
    w.put_bytes(r.get_bytes());
  }
}

template <class T>
T decode_arg(Reader& in) {
  const auto kind = in.get<ArgKind>();
  if (kind != ArgKind::kValue)
    throw std::runtime_error(
        "mpiray: internal error: unresolved ObjectRef argument reached a worker");
  return Codec<T>::decode(in.get_bytes());
}

template <auto F, class R, class... P, std::size_t... I>
void invoke_with(Reader& in, Writer& out, std::index_sequence<I...>) {
  const auto n = in.get<std::uint32_t>();
  if (n != sizeof...(P))
    throw std::runtime_error("mpiray: task received " + std::to_string(n) +
                             " arguments, expected " + std::to_string(sizeof...(P)));
  // Braced initialisation evaluates left to right, matching the encoding order.
  std::tuple<std::decay_t<P>...> args{decode_arg<std::decay_t<P>>(in)...};
  if constexpr (std::is_void_v<R>) {
    F(static_cast<P&&>(std::get<I>(args))...);
  } else {
    Codec<std::decay_t<R>>::encode(out, F(static_cast<P&&>(std::get<I>(args))...));
  }
}

template <auto F, class R, class... P>
void invoke_fn(Reader& in, Writer& out) {
  invoke_with<F, R, P...>(in, out, std::index_sequence_for<P...>{});
}

template <class Fn>
struct FnTraits;
template <class R, class... P>
struct FnTraits<R (*)(P...)> {
  using Result = R;
  static constexpr std::size_t arity = sizeof...(P);
  template <auto F>
  static constexpr Invoker invoker() {
    return &invoke_fn<F, R, P...>;
  }
};
template <class R, class... P>
struct FnTraits<R (*)(P...) noexcept> : FnTraits<R (*)(P...)> {};

// ---- actor methods: member functions invoked on an actor instance
using MethodInvoker = void (*)(void* self, Reader& args, Writer& out);

struct MethodInfo {
  std::string name;
  std::uint64_t id = 0;
  MethodInvoker invoke = nullptr;
  std::uint64_t result_tag = 0;
  const std::type_info* cls = nullptr;
};

/// A member-function pointer's identity: its type plus its bytes (stable for one binary).
template <class M>
std::string method_key(M m) {
  std::string k = typeid(M).name();
  k.push_back('\0');
  k.append(reinterpret_cast<const char*>(&m), sizeof(M));
  return k;
}

bool register_method(std::string key, std::string name, MethodInvoker invoke,
                     const std::type_info& cls, std::string signature, std::uint64_t result_tag);
/// Throws RegistrationError naming MPIRAY_REMOTE(&Class::method) when unknown.
const MethodInfo& lookup_method(const std::string& key, const char* what);
const MethodInfo* find_method(std::uint64_t id) noexcept;

template <class M>
struct MethodTraits;
template <class C, class R, class... P>
struct MethodTraits<R (C::*)(P...)> {
  using Class = C;
  using Result = R;
  static constexpr bool is_const = false;
};
template <class C, class R, class... P>
struct MethodTraits<R (C::*)(P...) const> {
  using Class = C;
  using Result = R;
  static constexpr bool is_const = true;
};
template <class C, class R, class... P>
struct MethodTraits<R (C::*)(P...) noexcept> : MethodTraits<R (C::*)(P...)> {};
template <class C, class R, class... P>
struct MethodTraits<R (C::*)(P...) const noexcept> : MethodTraits<R (C::*)(P...) const> {};

template <auto M, class C, class R, class... P, std::size_t... I>
void invoke_method_with(void* self, Reader& in, Writer& out, std::index_sequence<I...>) {
  const auto n = in.get<std::uint32_t>();
  if (n != sizeof...(P))
    throw std::runtime_error("mpiray: actor method received " + std::to_string(n) +
                             " arguments, expected " + std::to_string(sizeof...(P)));
  std::tuple<std::decay_t<P>...> args{decode_arg<std::decay_t<P>>(in)...};
  C* obj = static_cast<C*>(self);
  if constexpr (std::is_void_v<R>) {
    (obj->*M)(static_cast<P&&>(std::get<I>(args))...);
  } else {
    Codec<std::decay_t<R>>::encode(out, (obj->*M)(static_cast<P&&>(std::get<I>(args))...));
  }
}

template <auto M, class Sig>
struct MethodInvokerOf;
template <auto M, class C, class R, class... P>
struct MethodInvokerOf<M, R (C::*)(P...)> {
  static void call(void* self, Reader& in, Writer& out) {
    invoke_method_with<M, C, R, P...>(self, in, out, std::index_sequence_for<P...>{});
  }
};
template <auto M, class C, class R, class... P>
struct MethodInvokerOf<M, R (C::*)(P...) const> : MethodInvokerOf<M, R (C::*)(P...)> {};
template <auto M, class C, class R, class... P>
struct MethodInvokerOf<M, R (C::*)(P...) noexcept> : MethodInvokerOf<M, R (C::*)(P...)> {};
template <auto M, class C, class R, class... P>
struct MethodInvokerOf<M, R (C::*)(P...) const noexcept> : MethodInvokerOf<M, R (C::*)(P...)> {};

// ---- actor classes: a constructor signature registered with MPIRAY_ACTOR
using ActorFactory = std::shared_ptr<void> (*)(Reader& args);

struct ActorClassInfo {
  std::string name;
  std::uint64_t id = 0;
  ActorFactory construct = nullptr;
  const std::type_info* cls = nullptr;
};

bool register_actor_class(std::string name, ActorFactory construct, const std::type_info& cls,
                          std::string signature);
/// Throws RegistrationError naming MPIRAY_ACTOR when `cls` was not registered.
const ActorClassInfo& lookup_actor_class(const std::type_info& cls);
const ActorClassInfo* find_actor_class(std::uint64_t id) noexcept;

template <class C, class... A, std::size_t... I>
std::shared_ptr<void> construct_actor_with(Reader& in, std::index_sequence<I...>) {
  const auto n = in.get<std::uint32_t>();
  if (n != sizeof...(A))
    throw std::runtime_error("mpiray: actor constructor received " + std::to_string(n) +
                             " arguments, expected " + std::to_string(sizeof...(A)));
  std::tuple<std::decay_t<A>...> args{decode_arg<std::decay_t<A>>(in)...};
  return std::make_shared<C>(static_cast<A&&>(std::get<I>(args))...);
}

template <class C, class... A>
std::shared_ptr<void> construct_actor(Reader& in) {
  return construct_actor_with<C, A...>(in, std::index_sequence_for<A...>{});
}

template <auto F>
bool register_remote(const char* name) {
  using Fn = decltype(F);
  if constexpr (std::is_member_function_pointer_v<Fn>) {
    using Cls = typename MethodTraits<Fn>::Class;
    using R = std::decay_t<typename MethodTraits<Fn>::Result>;
    std::uint64_t tag = 0;
    if constexpr (!std::is_void_v<R>) tag = type_tag_of<R>();
    return register_method(method_key(F), name, &MethodInvokerOf<F, Fn>::call, typeid(Cls),
                           typeid(Fn).name(), tag);
  } else {
    static_assert(std::is_pointer_v<Fn> && std::is_function_v<std::remove_pointer_t<Fn>>,
                  "MPIRAY_REMOTE takes free functions, static member functions or &Class::method");
    using R = std::decay_t<typename FnTraits<Fn>::Result>;
    std::uint64_t tag = 0;
    if constexpr (!std::is_void_v<R>) tag = type_tag_of<R>();
    return register_function(reinterpret_cast<const void*>(F), name,
                             FnTraits<Fn>::template invoker<F>(), typeid(Fn).name(), tag);
  }
}

}  // namespace mpiray::detail

#define MPIRAY_DETAIL_CAT2(a, b) a##b
#define MPIRAY_DETAIL_CAT(a, b) MPIRAY_DETAIL_CAT2(a, b)
