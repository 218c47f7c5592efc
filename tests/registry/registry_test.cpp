// Remote-function registry: stable ids, lookups, the cross-rank registry hash.

#include <gtest/gtest.h>

#include <string>

#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "mpiray/remote.hpp"

namespace {

int triple(int x) { return 3 * x; }
std::string join(const std::string& a, int n) { return a + ":" + std::to_string(n); }
int never_registered(int x) { return x; }
int registered_at_test_time(int x) { return x + 1; }
int other_function_same_name(int x) { return x - 1; }

}  // namespace

MPIRAY_REMOTE(triple, join);

namespace {

using namespace mpiray::detail;

TEST(Fnv1a, IsACompileTimeDeterministicFunctionOfTheName) {
  static_assert(fnv1a("triple") == fnv1a("triple"), "fnv1a must be constexpr and deterministic");
  EXPECT_NE(fnv1a("triple"), fnv1a("tripla"));
  EXPECT_NE(fnv1a("ab"), fnv1a("ba"));
  EXPECT_NE(fnv1a(""), fnv1a(std::string_view("\0", 1)));
  // Chaining: hashing "ab" equals hashing "b" seeded with the hash of "a".
  EXPECT_EQ(fnv1a("ab"), fnv1a("b", fnv1a("a")));
}

TEST(Fnv1a, MatchesTheFnv1a64ReferenceVectors) {
  // Published FNV-1a 64-bit test vectors (offset basis 14695981039346656037). Function ids are
  // on the wire, so they must be the documented hash and must never change between builds.
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ULL);
}

TEST(Registry, RegisteredFunctionIsFoundByAddressAndById) {
  const FunctionInfo& info = lookup_function(reinterpret_cast<const void*>(&triple));
  EXPECT_EQ(info.name, "triple");
  EXPECT_EQ(info.id, fnv1a("triple"));
  EXPECT_NE(info.invoke, nullptr);
  EXPECT_FALSE(info.signature.empty());
  EXPECT_EQ(find_function(info.id), &info);
  EXPECT_EQ(find_function(fnv1a("join"))->name, "join");
  EXPECT_EQ(find_function(fnv1a("no_such_function")), nullptr);
}

TEST(Registry, InvokerDecodesArgumentsAndEncodesTheResult) {
  const FunctionInfo& info = lookup_function(reinterpret_cast<const void*>(&join));
  const std::string args = encode_args<const std::string&, int>(std::string("id"), 42);
  Reader in(args);
  Writer out;
  info.invoke(in, out);
  EXPECT_EQ(from_bytes<std::string>(out.view()), "id:42");
}

TEST(Registry, InvokerRejectsAWrongArgumentCount) {
  const FunctionInfo& info = lookup_function(reinterpret_cast<const void*>(&triple));
  const std::string args = encode_args<int, int>(1, 2);  // triple takes one
  Reader in(args);
  Writer out;
  EXPECT_THROW(info.invoke(in, out), std::runtime_error);
}

TEST(Registry, UnregisteredFunctionThrowsRegistrationErrorNamingTheMacro) {
  try {
    lookup_function(reinterpret_cast<const void*>(&never_registered));
    FAIL() << "expected RegistrationError";
  } catch (const mpiray::RegistrationError& e) {
    EXPECT_NE(std::string(e.what()).find("MPIRAY_REMOTE"), std::string::npos) << e.what();
  }
  // The public entry point reports the same, before anything is submitted.
  EXPECT_THROW(mpiray::task(never_registered), mpiray::RegistrationError);
}

TEST(Registry, HashIsStableAndTracksRegistrations) {
  const std::uint64_t h1 = registry_hash();
  EXPECT_EQ(registry_hash(), h1);
  const std::size_t n = registry_size();
  EXPECT_GE(n, 2u);

  // Registering the same function again changes nothing.
  register_remote<&triple>("triple");
  EXPECT_EQ(registry_hash(), h1);
  EXPECT_EQ(registry_size(), n);

  // A new function changes the hash (another rank without it must not match).
  register_remote<&registered_at_test_time>("registered_at_test_time");
  const std::uint64_t h2 = registry_hash();
  EXPECT_NE(h2, h1);
  EXPECT_EQ(registry_hash(), h2);
  EXPECT_EQ(registry_size(), n + 1);
}

TEST(Registry, TwoFunctionsUnderOneNameAreRejected) {
  try {
    register_remote<&other_function_same_name>("triple");
    FAIL() << "expected RegistrationError";
  } catch (const mpiray::RegistrationError& e) {
    EXPECT_NE(std::string(e.what()).find("triple"), std::string::npos) << e.what();
  }
  EXPECT_EQ(find_function(fnv1a("triple"))->name, "triple");
  EXPECT_EQ(&lookup_function(reinterpret_cast<const void*>(&triple)), find_function(fnv1a("triple")));
}

}  // namespace
