// serialization/messages.hpp: every control record survives encode -> for_each_record -> decode.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "serialization/messages.hpp"

namespace {

using namespace mpiray::detail;

// Splits a message into (type, payload) pairs, copying each payload.
std::vector<std::pair<MsgType, std::string>> records_of(const Writer& w) {
  std::vector<std::pair<MsgType, std::string>> out;
  for_each_record(w.data(), w.size(), [&](MsgType type, Reader& r) {
    const std::size_t n = r.remaining();
    out.emplace_back(type, std::string(r.take(n), n));
  });
  return out;
}

ObjectData ok_data(std::string bytes) {
  ObjectData d;
  d.bytes = std::move(bytes);
  return d;
}

ObjectData error_data() {
  auto e = std::make_shared<ErrorInfo>();
  e->function = "parse_input";
  e->rank = 3;
  e->type = "std::invalid_argument";
  e->message = "bad token 'x'";
  ObjectData d;
  d.error = std::move(e);
  return d;
}

void expect_error_fields(const ObjectPtr& d) {
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->failed());
  EXPECT_EQ(d->error->function, "parse_input");
  EXPECT_EQ(d->error->rank, 3);
  EXPECT_EQ(d->error->type, "std::invalid_argument");
  EXPECT_EQ(d->error->message, "bad token 'x'");
  EXPECT_TRUE(d->bytes.empty());
}

TEST(Messages, ExecuteRoundTrips) {
  Writer w;
  // Split literal: "\x00ab" would be one (greedy) hex escape, and the string 2 bytes short.
  const std::string args(
      "\x01\x00\x00\x00\x00\x02\x00\x00\x00"
      "ab",
      11);
  encode_execute(w, 77, 0xfeedbeefULL, 2, "my_task", args);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].first, MsgType::kExecute);
  Reader r(recs[0].second);
  ExecuteView v = decode_execute(r);
  EXPECT_EQ(v.task, 77u);
  EXPECT_EQ(v.func, 0xfeedbeefULL);
  EXPECT_EQ(v.attempt, 2u);
  EXPECT_EQ(v.name, "my_task");
  EXPECT_EQ(v.args, args);
  EXPECT_TRUE(r.done());
}

TEST(Messages, SubmitRoundTrips) {
  TaskSubmission t;
  t.func_id = 1234567;
  t.args = std::string("argument bytes\0with nul", 23);
  t.pin = 2;
  t.max_retries = 5;
  t.name = "child";
  Writer w;
  encode_submit(w, 99, t);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].first, MsgType::kSubmit);
  Reader r(recs[0].second);
  SubmitView v = decode_submit(r);
  EXPECT_EQ(v.task, 99u);
  EXPECT_EQ(v.func, 1234567u);
  EXPECT_EQ(v.pin, 2);
  EXPECT_EQ(v.retries, 5);
  EXPECT_EQ(v.name, "child");
  EXPECT_EQ(v.args, t.args);
  EXPECT_TRUE(r.done());
}

TEST(Messages, SubmitKeepsUnpinnedAsMinusOne) {
  TaskSubmission t;  // defaults: pin -1, no retries, empty name and args
  Writer w;
  encode_submit(w, 1, t);
  auto recs = records_of(w);
  Reader r(recs.at(0).second);
  SubmitView v = decode_submit(r);
  EXPECT_EQ(v.pin, -1);
  EXPECT_EQ(v.retries, 0);
  EXPECT_TRUE(v.name.empty());
  EXPECT_TRUE(v.args.empty());
}

TEST(Messages, ResultOkRoundTripsThroughBothEncoders) {
  Writer w;
  encode_result(w, 5, 1500, ok_data("value-bytes"));
  encode_result_ok(w, 6, 42, "other", 77);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 2u);
  const std::pair<ObjectId, std::uint32_t> expect[] = {{5, 1500}, {6, 42}};
  const char* bytes[] = {"value-bytes", "other"};
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(recs[i].first, MsgType::kResult);
    Reader r(recs[i].second);
    EXPECT_EQ(r.get<ObjectId>(), expect[i].first);
    EXPECT_EQ(r.get<std::uint32_t>(), expect[i].second);
    ObjectPtr d = decode_outcome(r);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->failed());
    EXPECT_EQ(d->bytes, bytes[i]);
    EXPECT_TRUE(r.done());
  }
}

TEST(Messages, ResultErrorRoundTrips) {
  Writer w;
  encode_result(w, 8, 7, error_data());
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].first, MsgType::kResult);
  Reader r(recs[0].second);
  EXPECT_EQ(r.get<ObjectId>(), 8u);
  EXPECT_EQ(r.get<std::uint32_t>(), 7u);
  expect_error_fields(decode_outcome(r));
  EXPECT_TRUE(r.done());
}

TEST(Messages, ObjectRecordRoundTripsValuesAndErrors) {
  Writer w;
  encode_object(w, 11, ok_data(std::string(70000, 'q')));  // larger than a 64 KiB buffer
  encode_object(w, 12, error_data());
  encode_object(w, 13, ok_data(""));
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 3u);
  for (auto& rec : recs) EXPECT_EQ(rec.first, MsgType::kObject);

  Reader r1(recs[0].second);
  EXPECT_EQ(r1.get<ObjectId>(), 11u);
  ObjectPtr d1 = decode_outcome(r1);
  EXPECT_FALSE(d1->failed());
  EXPECT_EQ(d1->bytes, std::string(70000, 'q'));

  Reader r2(recs[1].second);
  EXPECT_EQ(r2.get<ObjectId>(), 12u);
  expect_error_fields(decode_outcome(r2));

  Reader r3(recs[2].second);
  EXPECT_EQ(r3.get<ObjectId>(), 13u);
  ObjectPtr d3 = decode_outcome(r3);
  EXPECT_FALSE(d3->failed());
  EXPECT_TRUE(d3->bytes.empty());
}

TEST(Messages, IdRecordsRoundTrip) {
  const MsgType types[] = {MsgType::kGetRequest, MsgType::kRelease, MsgType::kPin, MsgType::kBlock,
                           MsgType::kUnblock};
  Writer w;
  ObjectId id = 1000;
  for (MsgType t : types) encode_id(w, t, id++);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 5u);
  id = 1000;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].first, types[i]);
    Reader r(recs[i].second);
    EXPECT_EQ(r.get<ObjectId>(), id++);
    EXPECT_TRUE(r.done());
  }
}

TEST(Messages, PutRoundTrips) {
  Writer w;
  const std::string bytes("\x00\x01\x02put", 6);
  ObjectData value;
  value.bytes = bytes;
  value.type_tag = 99;
  ObjectData where;  // a large put stays on its worker: only the location travels
  where.owner = 3;
  where.size = 1 << 20;
  where.type_tag = 98;
  encode_put(w, (ObjectId{3} << 44) + 1, value);
  encode_put(w, (ObjectId{3} << 44) + 2, where);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].first, MsgType::kPut);
  Reader r(recs[0].second);
  EXPECT_EQ(r.get<ObjectId>(), (ObjectId{3} << 44) + 1);
  ObjectPtr d = decode_outcome(r);
  EXPECT_TRUE(d->local());
  EXPECT_EQ(d->bytes, bytes);
  EXPECT_EQ(d->type_tag, 99u);
  EXPECT_TRUE(r.done());
  Reader r2(recs[1].second);
  EXPECT_EQ(r2.get<ObjectId>(), (ObjectId{3} << 44) + 2);
  ObjectPtr loc = decode_outcome(r2);
  EXPECT_FALSE(loc->local());
  EXPECT_EQ(loc->owner, 3);
  EXPECT_EQ(loc->size, 1u << 20);
  EXPECT_EQ(loc->type_tag, 98u);
  EXPECT_TRUE(loc->bytes.empty());
  EXPECT_TRUE(r2.done());
}

TEST(Messages, ResultOkCarriesTheTypeTag) {
  Writer w;
  encode_result_ok(w, 6, 42, "other", 0xabcdef);
  auto recs = records_of(w);
  Reader r(recs.at(0).second);
  r.get<ObjectId>();
  r.get<std::uint32_t>();
  ObjectPtr d = decode_outcome(r);
  EXPECT_EQ(d->type_tag, 0xabcdefu);
  EXPECT_EQ(d->owner, -1) << "a value outcome is held where it is decoded";
}

TEST(Messages, ObjectRecordRoundTripsALocation) {
  ObjectData where;  // the value stays on rank 2; only where it is travels
  where.owner = 2;
  where.size = 123456789;
  where.type_tag = 7;
  Writer w;
  encode_object(w, 21, where);
  auto recs = records_of(w);
  Reader r(recs.at(0).second);
  EXPECT_EQ(r.get<ObjectId>(), 21u);
  ObjectPtr d = decode_outcome(r);
  EXPECT_FALSE(d->failed());
  EXPECT_FALSE(d->local());
  EXPECT_EQ(d->owner, 2);
  EXPECT_EQ(d->size, 123456789u);
  EXPECT_EQ(d->type_tag, 7u);
  EXPECT_TRUE(r.done());
}

TEST(Messages, ActorRecordsRoundTrip) {
  Writer w;
  encode_actor_create(w, 501, 0x1111, 3, "ctor-args");
  encode_actor_call(w, 502, 501, 0x2222, 4, 77, "call-args");
  encode_call_result(w, 502, 4, error_data());
  encode_name_request(w, 503, 1, "counter", ActorRef{501, 2, 0x1111});
  encode_id(w, MsgType::kActorKill, 501);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 5u);

  EXPECT_EQ(recs[0].first, MsgType::kActorCreate);
  Reader c(recs[0].second);
  EXPECT_EQ(c.get<ObjectId>(), 501u);
  EXPECT_EQ(c.get<std::uint64_t>(), 0x1111u);
  EXPECT_EQ(c.get<std::int32_t>(), 3);
  EXPECT_EQ(c.get_bytes(), "ctor-args");
  EXPECT_TRUE(c.done());

  EXPECT_EQ(recs[1].first, MsgType::kActorCall);
  Reader call(recs[1].second);
  ActorCallView v = decode_actor_call(call);
  EXPECT_EQ(v.call, 502u);
  EXPECT_EQ(v.actor, 501u);
  EXPECT_EQ(v.method, 0x2222u);
  EXPECT_EQ(v.caller, 4);
  EXPECT_EQ(v.order_key, 77u);
  EXPECT_EQ(v.args, "call-args");
  EXPECT_TRUE(call.done());

  EXPECT_EQ(recs[2].first, MsgType::kCallResult);
  Reader res(recs[2].second);
  EXPECT_EQ(res.get<ObjectId>(), 502u);
  EXPECT_EQ(res.get<std::int32_t>(), 4);
  expect_error_fields(decode_outcome(res));
  EXPECT_TRUE(res.done());

  EXPECT_EQ(recs[3].first, MsgType::kNameRequest);
  Reader n(recs[3].second);
  EXPECT_EQ(n.get<ObjectId>(), 503u);
  EXPECT_EQ(n.get<std::uint8_t>(), 1);
  EXPECT_EQ(n.get_bytes(), "counter");
  EXPECT_EQ(n.get<ObjectId>(), 501u);
  EXPECT_EQ(n.get<std::int32_t>(), 2);
  EXPECT_EQ(n.get<std::uint64_t>(), 0x1111u);
  EXPECT_TRUE(n.done());

  EXPECT_EQ(recs[4].first, MsgType::kActorKill);
}

TEST(Messages, ShutdownRoundTripsItsExitCode) {
  Writer w;
  encode_shutdown(w, 0);
  encode_shutdown(w, -5);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 2u);
  Reader r0(recs[0].second);
  Reader r1(recs[1].second);
  EXPECT_EQ(recs[0].first, MsgType::kShutdown);
  EXPECT_EQ(r0.get<std::int32_t>(), 0);
  EXPECT_EQ(r1.get<std::int32_t>(), -5);
}

TEST(Messages, ManyRecordsInOneMessageKeepTheirOrder) {
  Writer w;
  encode_execute(w, 1, 2, 0, "a", "");
  encode_id(w, MsgType::kRelease, 3);
  encode_result_ok(w, 4, 0, "r", 0);
  encode_shutdown(w, 9);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].first, MsgType::kExecute);
  EXPECT_EQ(recs[1].first, MsgType::kRelease);
  EXPECT_EQ(recs[2].first, MsgType::kResult);
  EXPECT_EQ(recs[3].first, MsgType::kShutdown);
}

TEST(Messages, CustomRecordUsesBeginAndEndRecord) {
  Writer w;
  const auto at = begin_record(w, MsgType::kBlock);
  w.put<ObjectId>(0);
  end_record(w, at);
  auto recs = records_of(w);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].first, MsgType::kBlock);
  EXPECT_EQ(recs[0].second.size(), sizeof(ObjectId));
}

TEST(Messages, TruncatedMessageThrowsInsteadOfReadingPastTheEnd) {
  Writer w;
  encode_execute(w, 1, 2, 3, "name", "args");
  for (std::size_t cut : {w.size() - 1, std::size_t{3}, std::size_t{1}}) {
    EXPECT_THROW(for_each_record(w.data(), cut, [](MsgType, Reader&) {}), std::runtime_error)
        << "cut at " << cut;
  }
}

TEST(Messages, TruncatedPayloadThrowsInDecoders) {
  Writer w;
  encode_execute(w, 1, 2, 3, "name", "args");
  auto recs = records_of(w);
  const std::string& payload = recs.at(0).second;
  Reader r(payload.data(), payload.size() - 2);
  EXPECT_THROW(decode_execute(r), std::runtime_error);

  Writer o;
  encode_outcome(o, error_data());
  Reader ro(o.data(), o.size() - 1);
  EXPECT_THROW(decode_outcome(ro), std::runtime_error);
}

}  // namespace
