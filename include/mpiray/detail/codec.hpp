#pragma once
// Value serialization for task arguments, results and objects.
//
// The path is chosen at compile time by a trait, as Boost.MPI does:
//   * trivially copyable values            -> their bytes, no serialization step;
//   * std::vector<T> / std::basic_string of trivially copyable T -> the element bytes;
//   * anything else                         -> a Boost.Serialization binary archive.
// A value always fills one length-delimited segment, so decoders get the exact byte count and a
// size mismatch is reported instead of read past.

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/array.hpp>
#include <boost/serialization/deque.hpp>
#include <boost/serialization/list.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/optional.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unordered_map.hpp>
#include <boost/serialization/unordered_set.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <boost/iostreams/device/array.hpp>
#include <boost/iostreams/device/back_inserter.hpp>
#include <boost/iostreams/stream.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "mpiray/detail/buffer.hpp"

namespace boost::serialization {
// std::tuple is not covered by Boost 1.74; starmap-style arguments need it.
template <class Archive, class... Ts>
void serialize(Archive& ar, std::tuple<Ts...>& t, const unsigned int /*version*/) {
  std::apply([&](auto&... e) { ((ar & e), ...); }, t);
}
}  // namespace boost::serialization

namespace mpiray::detail {

template <class T>
struct IsStdVector : std::false_type {};
template <class T, class A>
struct IsStdVector<std::vector<T, A>> : std::true_type {};

/// True for types moved as raw bytes: no pointers (their value means nothing on another rank).
template <class T>
inline constexpr bool kIsPlainBytes =
    std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T>;

template <class T, class Enable = void>
struct Codec {
  // Boost.Serialization fallback for everything that is not plain bytes.
  static void encode(Writer& w, const T& v) {
    namespace io = boost::iostreams;
    io::stream<io::back_insert_device<std::vector<char>>> os(w.bytes());
    {
      boost::archive::binary_oarchive ar(os, boost::archive::no_header | boost::archive::no_codecvt);
      ar << v;
    }
    os.flush();
  }
  static T decode(std::string_view s) {
    namespace io = boost::iostreams;
    io::stream<io::array_source> is(s.data(), s.size());
    boost::archive::binary_iarchive ar(is, boost::archive::no_header | boost::archive::no_codecvt);
    T v{};
    ar >> v;
    return v;
  }
};

template <class T>
struct Codec<T, std::enable_if_t<kIsPlainBytes<T>>> {
  static void encode(Writer& w, const T& v) { w.append(&v, sizeof(T)); }
  static T decode(std::string_view s) {
    if (s.size() != sizeof(T))
      throw std::runtime_error("mpiray: value of " + std::to_string(s.size()) +
                               " bytes where a " + std::to_string(sizeof(T)) +
                               "-byte type was expected: the producer and the reader disagree on "
                               "the type (check the ObjectRef<T> and the function signature)");
    T v;
    std::memcpy(&v, s.data(), sizeof(T));
    return v;
  }
};

template <class T, class A>
struct Codec<std::vector<T, A>, std::enable_if_t<kIsPlainBytes<T> && !std::is_same_v<T, bool>>> {
  static void encode(Writer& w, const std::vector<T, A>& v) {
    w.append(v.data(), v.size() * sizeof(T));
  }
  static std::vector<T, A> decode(std::string_view s) {
    if (s.size() % sizeof(T) != 0)
      throw std::runtime_error("mpiray: " + std::to_string(s.size()) +
                               " bytes are not a whole number of vector elements of " +
                               std::to_string(sizeof(T)) + " bytes: type mismatch");
    std::vector<T, A> v(s.size() / sizeof(T));
    if (!s.empty()) std::memcpy(v.data(), s.data(), s.size());
    return v;
  }
};

template <class C, class Tr, class A>
struct Codec<std::basic_string<C, Tr, A>, std::enable_if_t<kIsPlainBytes<C>>> {
  static void encode(Writer& w, const std::basic_string<C, Tr, A>& v) {
    w.append(v.data(), v.size() * sizeof(C));
  }
  static std::basic_string<C, Tr, A> decode(std::string_view s) {
    if (s.size() % sizeof(C) != 0) throw std::runtime_error("mpiray: string size mismatch");
    return std::basic_string<C, Tr, A>(reinterpret_cast<const C*>(s.data()), s.size() / sizeof(C));
  }
};

/// Appends `v` as one length-delimited segment.
template <class T>
void encode_segment(Writer& w, const T& v) {
  const std::size_t at = w.begin_len();
  Codec<T>::encode(w, v);
  w.end_len(at);
}

/// Serializes a whole value into a fresh byte string (no length prefix).
template <class T>
std::string to_bytes(const T& v) {
  Writer w;
  Codec<T>::encode(w, v);
  return std::string(w.data(), w.size());
}

template <class T>
T from_bytes(std::string_view s) {
  return Codec<T>::decode(s);
}

}  // namespace mpiray::detail
