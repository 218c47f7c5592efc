#pragma once
// Remote-function registry: functions are registered by stable name (MPIRAY_REMOTE), identified
// on the wire by a 64-bit hash of that name, never by address or registration order.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/codec.hpp"

namespace mpiray::detail {

/// Decodes the arguments in `args`, runs the function and appends the encoded result to `out`.
/// User exceptions propagate to the caller (the executor turns them into TaskErrors).
using Invoker = void (*)(Reader& args, Writer& out);

struct FunctionInfo {
  std::string name;
  std::uint64_t id = 0;
  Invoker invoke = nullptr;
  std::string signature;  // for the registry hash: ranks with other signatures must not match
};

/// FNV-1a, 64 bit: stable across builds and ranks.
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// Registers a function; throws RegistrationError on a name clash between different functions.
bool register_function(const void* key, std::string name, Invoker invoke, std::string signature);
/// The function registered for `key` (a function address), or throws RegistrationError naming
/// the fix (MPIRAY_REMOTE).
const FunctionInfo& lookup_function(const void* key);
/// The function for a wire id; nullptr when unknown.
const FunctionInfo* find_function(std::uint64_t id) noexcept;
/// Hash over every registered name and signature; equal on ranks running the same binary.
std::uint64_t registry_hash();
std::size_t registry_size();

enum class ArgKind : std::uint8_t { kValue = 0, kRef = 1 };

template <class T>
T decode_arg(Reader& in) {
  const auto kind = in.get<ArgKind>();
  if (kind != ArgKind::kValue)
    throw std::runtime_error("mpiray: internal error: unresolved ObjectRef argument reached a worker");
  return Codec<T>::decode(in.get_bytes());
}

template <auto F, class R, class... P, std::size_t... I>
void invoke_with(Reader& in, Writer& out, std::index_sequence<I...>) {
  const auto n = in.get<std::uint32_t>();
  if (n != sizeof...(P))
    throw std::runtime_error("mpiray: task received " + std::to_string(n) + " arguments, expected " +
                             std::to_string(sizeof...(P)));
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

template <auto F>
bool register_remote(const char* name) {
  using Fn = decltype(F);
  static_assert(std::is_pointer_v<Fn> && std::is_function_v<std::remove_pointer_t<Fn>>,
                "MPIRAY_REMOTE takes a free function or static member function");
  return register_function(reinterpret_cast<const void*>(F), name, FnTraits<Fn>::template invoker<F>(),
                           typeid(Fn).name());
}

}  // namespace mpiray::detail

#define MPIRAY_DETAIL_CAT2(a, b) a##b
#define MPIRAY_DETAIL_CAT(a, b) MPIRAY_DETAIL_CAT2(a, b)
