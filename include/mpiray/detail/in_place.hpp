#pragma once
// Values whose encoding is their own storage: std::vector and std::basic_string of plain
// elements (codec.hpp encodes them as the raw element bytes). For these, the object store keeps
// the value itself and points the object's bytes into it, so
//   * put() copies the value once (or moves it) and the first view() on that rank is free;
//   * a fetch or a broadcast writes straight into a freshly made value, with no decode copy.

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "mpiray/detail/codec.hpp"
#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

template <class T>
struct InPlace : std::false_type {};
template <class E>
struct InPlace<std::vector<E>> : std::bool_constant<kIsPlainBytes<E> && !std::is_same_v<E, bool>> {
  using Elem = E;
};
template <class C, class Tr>
struct InPlace<std::basic_string<C, Tr>> : std::bool_constant<kIsPlainBytes<C>> {
  using Elem = C;
};

/// Makes an empty T of `bytes` bytes for a fetch or broadcast to fill (registered per type tag).
template <class T>
struct InPlaceLanding {
  static InPlaceTarget make(std::size_t bytes) {
    using E = typename InPlace<T>::Elem;
    if (bytes % sizeof(E) != 0) return {};  // not a T after all: the reader reports the mismatch
    auto v = std::make_shared<T>(bytes / sizeof(E), E{});
    InPlaceTarget t;
    t.data = reinterpret_cast<char*>(v->data());
    t.value = std::move(v);
    return t;
  }
  static inline const bool registered = (register_in_place(type_tag_of<T>(), &make), true);
};

/// Ensures fetches of T objects land in place on this rank (odr-use from the API templates
/// instantiates the registration, which runs at start-up on every rank of an SPMD program).
template <class T>
inline void use_in_place() {
  if constexpr (InPlace<T>::value) (void)InPlaceLanding<T>::registered;
}

/// The bytes of an in-place value: its own storage, kept alive by `v`.
template <class T>
Blob in_place_bytes(const std::shared_ptr<const T>& v) {
  using E = typename InPlace<T>::Elem;
  return Blob::external(v, reinterpret_cast<const char*>(v->data()), v->size() * sizeof(E));
}

}  // namespace mpiray::detail
