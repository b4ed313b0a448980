#include "dataplane/session/client_protocol.h"

#include "common/json_text.h"

#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herald::node {
namespace {

using nlohmann::json;

TEST(ClientProtocolTest, ParsesSubscribeWithId) {
  auto p = parseClientFrame(R"({"type":"subscribe","channels":["a","token:price"],"id":7})");
  ASSERT_TRUE(p.status.isOk()) << p.status.message();
  EXPECT_EQ(p.command.type, CommandType::kSubscribe);
  EXPECT_EQ(p.command.channels, (std::vector<std::string>{"a", "token:price"}));
  ASSERT_TRUE(p.id.has_value());
  EXPECT_EQ(*p.id, 7u);
}

TEST(ClientProtocolTest, RpcNeedsAnIdAndAMethod) {
  auto rpc = parseClientFrame(R"({"type":"rpc","id":3,"method":"orders.get","data":{"n": 1}})");
  ASSERT_TRUE(rpc.status.isOk()) << rpc.status.message();
  EXPECT_EQ(rpc.command.type, CommandType::kRpc);
  EXPECT_EQ(rpc.command.method, "orders.get");
  EXPECT_EQ(rpc.command.data, R"({"n": 1})") << "as sent";
  EXPECT_EQ(parseClientFrame(R"({"type":"rpc","id":3,"method":"m"})").command.data, "null");
  auto no_id = parseClientFrame(R"({"type":"rpc","method":"m"})");
  EXPECT_EQ(no_id.status.code(), ErrorCode::kBadRequest);
  for (const char* frame :
       {R"({"type":"rpc","id":1})", R"({"type":"rpc","id":1,"method":""})",
        R"({"type":"rpc","id":1,"method":"a b"})", R"({"type":"rpc","id":1,"method":7})"}) {
    auto p = parseClientFrame(frame);
    EXPECT_EQ(p.status.code(), ErrorCode::kBadRequest) << frame;
    EXPECT_EQ(p.id, 1u) << "the error can name the frame";
  }
  EXPECT_EQ(buildRpcReplyFrame(3, R"({"n":12345678901234567890123})"),
            R"({"type":"rpc","id":3,"data":{"n":12345678901234567890123}})");
  const auto error = json::parse(buildRpcErrorFrame(3, "not_yours", "bad ÿ byte"));
  EXPECT_EQ(error["error"]["code"], "not_yours");
  EXPECT_EQ(error["id"], 3);
}

TEST(ClientProtocolTest, ParsesOtherCommands) {
  EXPECT_EQ(parseClientFrame(R"({"type":"ping"})").command.type, CommandType::kPing);
  auto un = parseClientFrame(R"({"type":"unsubscribe","channels":["a"]})");
  EXPECT_TRUE(un.status.isOk());
  EXPECT_EQ(un.command.type, CommandType::kUnsubscribe);
  auto pub = parseClientFrame(R"({"type":"publish","channel":"chat:1","data":{"t": "hi"}})");
  ASSERT_TRUE(pub.status.isOk());
  EXPECT_EQ(pub.command.channel, "chat:1");
  EXPECT_EQ(pub.command.data, R"({"t": "hi"})");  // as sent: validated, not re-serialised
  EXPECT_EQ(pub.command.event, "");
  auto full = parseClientFrame(
      R"({"type":"publish","channel":"chat:1","data":1,"event":"said","idempotency_key":"k1"})");
  ASSERT_TRUE(full.status.isOk());
  EXPECT_EQ(full.command.event, "said");
  EXPECT_EQ(full.command.idempotency_key, "k1");
  auto auth = parseClientFrame(R"({"type":"authenticate","token":"abc"})");
  ASSERT_TRUE(auth.status.isOk());
  EXPECT_EQ(auth.command.token, "abc");
}

TEST(ClientProtocolTest, MalformedInputGetsBadRequest) {
  const std::vector<std::string> inputs = {
      "",
      "garbage",
      "{",
      R"({"type":"subscribe","channels":["a")",  // truncated
      "[]",
      "42",
      "null",
      R"({"channels":["a"]})",
      R"({"type":5})",
      R"({"type":"subscribe"})",
      R"({"type":"subscribe","channels":"a"})",
      R"({"type":"subscribe","channels":[]})",
      R"({"type":"subscribe","channels":[1]})",
      R"({"type":"publish","data":1})",
      R"({"type":"publish","channel":"a"})",
      R"({"type":"publish","channel":"a","data":1,"event":2})",
      R"({"type":"publish","channel":"a","data":1,"idempotency_key":["k"]})",
      R"({"type":"authenticate","token":""})",
      R"({"type":"teleport"})",
      R"({"type":"ping","id":-1})",
      R"({"type":"ping","id":"1"})",
      "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}",  // invalid UTF-8 inside a string
  };
  for (const auto& in : inputs) {
    auto p = parseClientFrame(in);
    EXPECT_FALSE(p.status.isOk()) << in;
    EXPECT_EQ(p.status.code(), ErrorCode::kBadRequest) << in;
    EXPECT_FALSE(p.status.message().empty()) << in;
  }
}

TEST(ClientProtocolTest, IdIsKeptWhenTheRestIsWrong) {
  auto p = parseClientFrame(R"({"type":"teleport","id":12})");
  EXPECT_FALSE(p.status.isOk());
  ASSERT_TRUE(p.id.has_value());
  EXPECT_EQ(*p.id, 12u);
}

TEST(ClientProtocolTest, TooManyChannelsIsLimitExceeded) {
  json frame = {{"type", "subscribe"}, {"channels", json::array()}};
  for (size_t i = 0; i <= kMaxChannelsPerCommand; ++i) {
    frame["channels"].push_back("c" + std::to_string(i));
  }
  EXPECT_EQ(parseClientFrame(frame.dump()).status.code(), ErrorCode::kLimitExceeded);
}

TEST(ClientProtocolTest, HugeAndDeepInputsDoNotCrash) {
  const std::string huge_string =
      "{\"type\":\"ping\",\"pad\":\"" + std::string(1 << 20, 'x') + "\"}";
  EXPECT_TRUE(parseClientFrame(huge_string).status.isOk());
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(parseClientFrame(deep).status.isOk());
  const std::string deep_open = std::string(200000, '{');
  EXPECT_FALSE(parseClientFrame(deep_open).status.isOk());
}

TEST(ClientProtocolTest, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\":,0123456789abtypesubcrinl \\\x01\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 64, ' ');
    for (auto& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    auto p = parseClientFrame(s);
    if (!p.status.isOk()) {
      EXPECT_FALSE(p.status.message().empty());
    }
  }
}

TEST(ClientProtocolTest, ServerFramesAreValidJson) {
  auto connected = json::parse(buildConnectedFrame("c1", "n1", "", 25, {"a"}));
  EXPECT_EQ(connected["type"], "connected");
  EXPECT_EQ(connected["client"], "c1");
  EXPECT_EQ(connected["ping_interval"], 25);
  EXPECT_EQ(connected["subscribed"], json::array({"a"}));
  auto reply = json::parse(buildReplyFrame(3, {"a"}));
  EXPECT_EQ(reply["id"], 3);
  EXPECT_EQ(reply["ok"], true);
  EXPECT_FALSE(json::parse(buildReplyFrame(std::nullopt, {})).contains("id"));
  auto error = json::parse(buildErrorFrame(4, ErrorCode::kPermissionDenied, "no \xff way"));
  EXPECT_EQ(error["code"], "permission_denied");
  EXPECT_EQ(error["id"], 4);
  EXPECT_EQ(json::parse(buildPongFrame(9))["type"], "pong");
}

TEST(QueryTest, DecodesAndSplits) {
  EXPECT_EQ(queryParam("a=1&subscribe=token%3Aprice,b&c", "subscribe"), "token:price,b");
  EXPECT_EQ(queryParam("subscribe=", "subscribe"), "");
  EXPECT_FALSE(queryParam("a=1", "subscribe").has_value());
  EXPECT_FALSE(queryParam("subscribe=%zz", "subscribe").has_value());
  EXPECT_FALSE(queryParam("subscribe=%4", "subscribe").has_value());
  EXPECT_EQ(urlDecode("a+b%20c"), "a b c");
  EXPECT_EQ(splitChannelList("a,,b,"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(splitChannelList("").empty());
}

TEST(ClientProtocolTest, SubscribeCarriesRecoveryPositions) {
  auto p = parseClientFrame(
      R"({"type":"subscribe","channels":["a","b"],"since":{"b":{"offset":17,"epoch":"ae1a"}}})");
  ASSERT_TRUE(p.status.isOk()) << p.status.message();
  ASSERT_EQ(p.command.since.size(), 1u);
  EXPECT_EQ(p.command.since[0].first, "b");
  EXPECT_EQ(p.command.since[0].second.offset, 17u);
  EXPECT_EQ(p.command.since[0].second.epoch, "ae1a");
  auto no_epoch =
      parseClientFrame(R"({"type":"subscribe","channels":["a"],"since":{"a":{"offset":0}}})");
  ASSERT_TRUE(no_epoch.status.isOk());
  EXPECT_EQ(no_epoch.command.since[0].second.epoch, "");
}

TEST(ClientProtocolTest, SubscribeCarriesACompiledFilterAndPublishItsTags) {
  auto sub = parseClientFrame(
      R"({"type":"subscribe","id":2,"channels":["a"],"filter":{"key":"chain","in":["eth"]}})");
  ASSERT_TRUE(sub.status.isOk()) << sub.status.message();
  ASSERT_NE(sub.command.shape.filter, nullptr);
  EXPECT_EQ(sub.command.shape.filter->canonical(), R"({"in":["eth"],"key":"chain"})");
  EXPECT_EQ(parseClientFrame(R"({"type":"subscribe","channels":["a"]})").command.shape.filter,
            nullptr);

  auto pub = parseClientFrame(
      R"({"type":"publish","channel":"c","data":1,"tags":{"chain":"eth","usd":"10"}})");
  ASSERT_TRUE(pub.status.isOk()) << pub.status.message();
  EXPECT_EQ(pub.command.tags,
            (std::map<std::string, std::string>{{"chain", "eth"}, {"usd", "10"}}));
}

TEST(ClientProtocolTest, SubscribeCarriesAConflationInterval) {
  auto sub = parseClientFrame(R"({"type":"subscribe","channels":["a"],"conflate_ms":250})");
  ASSERT_TRUE(sub.status.isOk()) << sub.status.message();
  EXPECT_EQ(sub.command.shape.conflate_ms, 250u);
  for (const char* bad : {R"({"type":"subscribe","id":3,"channels":["a"],"conflate_ms":-1})",
                          R"({"type":"subscribe","id":3,"channels":["a"],"conflate_ms":60001})",
                          R"({"type":"subscribe","id":3,"channels":["a"],"conflate_ms":"9"})",
                          R"({"type":"subscribe","id":3,"channels":["a"],"conflate_ms":1.5})"}) {
    auto p = parseClientFrame(bad);
    EXPECT_EQ(p.status.code(), ErrorCode::kBadRequest) << bad;
    EXPECT_EQ(p.status.message(), "'conflate_ms' must be an integer from 0 to 60000") << bad;
    EXPECT_EQ(p.id, 3u);
  }
}

TEST(ClientProtocolTest, BadFiltersAndTagsAreBadRequestsWithTheirId) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"subscribe","id":3,"channels":["a"],"filter":{"key":"x","eqq":"1"}})",
       "filter: unknown operator 'eqq'"},
      {R"({"type":"subscribe","id":3,"channels":["a"],"filter":[]})", "filter: must be an object"},
      {R"({"type":"publish","id":3,"channel":"c","data":1,"tags":["a"]})",
       "'tags' must be an object of strings"},
      {R"({"type":"publish","id":3,"channel":"c","data":1,"tags":{"a":1}})",
       "'tags' must be an object of strings: 'a' is not a string"},
      {R"({"type":"publish","id":3,"channel":"c","data":1,"tags":{"a b":"1"}})",
       "tag key 'a b' must be"},
  };
  for (const auto& [input, expected] : cases) {
    auto p = parseClientFrame(input);
    EXPECT_EQ(p.status.code(), ErrorCode::kBadRequest) << input;
    EXPECT_EQ(p.id, 3u) << input;
    EXPECT_NE(p.status.message().find(expected), std::string::npos)
        << input << " -> " << p.status.message();
  }
}

TEST(ClientProtocolTest, MalformedRecoveryPositionsAreBadRequests) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"subscribe","channels":["a"],"since":[1]})", "'since' must be an object"},
      {R"({"type":"subscribe","channels":["a"],"since":{"a":{"offset":-1}}})", "'since' for 'a'"},
      {R"({"type":"subscribe","channels":["a"],"since":{"a":{"epoch":"x"}}})", "'since' for 'a'"},
      {R"({"type":"subscribe","channels":["a"],"since":{"a":{"offset":1,"epoch":"a b"}}})",
       "'since' for 'a'"},
      {R"({"type":"subscribe","channels":["a"],"since":{"z":{"offset":1}}})",
       "'since' names 'z', which is not in 'channels'"},
      {R"({"type":"authenticate","token":"t","user_since":{"offset":"1"}})", "'user_since' must"},
  };
  for (const auto& [input, expected] : cases) {
    auto p = parseClientFrame(input);
    EXPECT_EQ(p.status.code(), ErrorCode::kBadRequest) << input;
    EXPECT_NE(p.status.message().find(expected), std::string::npos)
        << input << " -> " << p.status.message();
  }
}

TEST(ClientProtocolTest, AuthenticateCarriesTheUserStreamPosition) {
  auto p = parseClientFrame(
      R"({"type":"authenticate","token":"t","user_since":{"offset":4,"epoch":"e1"}})");
  ASSERT_TRUE(p.status.isOk());
  ASSERT_TRUE(p.command.user_since.has_value());
  EXPECT_EQ(p.command.user_since->offset, 4u);
  EXPECT_EQ(p.command.user_since->epoch, "e1");
}

TEST(ClientProtocolTest, ParsesUserSinceQueryValues) {
  auto full = parseStreamPosition("17:ae1a4e3ebaaab331");
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->offset, 17u);
  EXPECT_EQ(full->epoch, "ae1a4e3ebaaab331");
  auto bare = parseStreamPosition("0");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->epoch, "");
  for (const char* bad : {"", "x", "-1", "1:a-b", "99999999999999999999999", ":e1"}) {
    EXPECT_FALSE(parseStreamPosition(bad).has_value()) << bad;
  }
}

TEST(ClientProtocolTest, RecoveryFrameNamesTheStream) {
  RecoveryOutcome channel{"chat:a", "", true, 12, "e1", 3, ""};
  auto c = json::parse(buildRecoveryFrame(channel));
  EXPECT_EQ(c["type"], "recovery");
  EXPECT_EQ(c["channel"], "chat:a");
  EXPECT_EQ(c["recovered"], true);
  EXPECT_EQ(c["offset"], 12);
  EXPECT_EQ(c["missed"], 3);
  EXPECT_FALSE(c.contains("reason"));
  RecoveryOutcome user{"", "alice", false, 0, "", 0, "unavailable"};
  auto u = json::parse(buildRecoveryFrame(user));
  EXPECT_EQ(u["user"], "alice");
  EXPECT_FALSE(u.contains("channel"));
  EXPECT_EQ(u["reason"], "unavailable");
}

// A frame of `depth` nested arrays as a publish's data: what overflowed the stack when the
// parser re-serialised `data` (one recursion per level).
std::string deepPublish(size_t depth) {
  return R"({"type":"publish","channel":"chat:1","data":)" + std::string(depth, '[') +
         std::string(depth, ']') + "}";
}

TEST(ClientProtocolTest, NestingBeyondTheLimitIsRefusedWithoutRecursion) {
  // 60,000 levels crashed the node when max_inbound_frame_bytes allowed the frame.
  for (size_t depth : {kMaxJsonDepth, size_t{60000}, size_t{500000}}) {
    auto p = parseClientFrame(deepPublish(depth));
    EXPECT_FALSE(p.status.isOk()) << depth;
    EXPECT_TRUE(p.too_deep) << depth;
    EXPECT_EQ(p.status.code(), ErrorCode::kBadRequest);
  }
  // Objects count as well, and so do unterminated openings.
  EXPECT_TRUE(parseClientFrame(R"({"type":"ping","x":)" + std::string(100, '{')).too_deep);
  // The deepest allowed data: the frame's own object is one level.
  auto ok = parseClientFrame(deepPublish(kMaxJsonDepth - 1));
  ASSERT_TRUE(ok.status.isOk()) << ok.status.message();
  EXPECT_EQ(ok.command.data,
            std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']'));
  // Brackets inside strings are text, not nesting.
  auto text = parseClientFrame(R"({"type":"publish","channel":"c","data":")" +
                               std::string(1000, '[') + R"("})");
  EXPECT_TRUE(text.status.isOk()) << text.status.message();
}

TEST(ClientProtocolTest, DataIsForwardedExactlyAsSent) {
  auto p = parseClientFrame(
      "{ \"data\" :\t[1, {\"a\" : \"\\u00e9\\\"}\"}, 2.50, null] , \"type\":\"publish\", "
      "\"channel\":\"c\"}");
  ASSERT_TRUE(p.status.isOk()) << p.status.message();
  EXPECT_EQ(p.command.data, "[1, {\"a\" : \"\\u00e9\\\"}\"}, 2.50, null]");
  EXPECT_TRUE(json::accept(p.command.data));
  // A repeated member: the last one counts, as for every other member.
  auto twice = parseClientFrame(R"({"type":"publish","channel":"c","data":1,"data":"two"})");
  ASSERT_TRUE(twice.status.isOk());
  EXPECT_EQ(twice.command.data, R"("two")");
  // Escaped member names are the same members.
  auto escaped = parseClientFrame(R"({"\u0074ype":"publish","channel":"c","d\u0061ta":{}})");
  ASSERT_TRUE(escaped.status.isOk()) << escaped.status.message();
  EXPECT_EQ(escaped.command.data, "{}");
}

TEST(ClientProtocolTest, BeforeAuthenticationOnlyTheTypeIsRead) {
  const auto scope = FrameScope::kAuthenticateOnly;
  for (const char* frame : {R"({"type":"subscribe","channels":["a"],"id":3})",
                            R"({"type":"publish","channel":"c","data":1,"id":3})",
                            R"({"type":"ping","id":3})", R"({"type":"subscribe","id":3})"}) {
    auto p = parseClientFrame(frame, scope);
    EXPECT_EQ(p.status.code(), ErrorCode::kUnauthorized) << frame;
    EXPECT_EQ(p.id, std::optional<uint64_t>(3)) << frame;
    EXPECT_NE(p.status.message().find("authenticate first"), std::string::npos);
  }
  auto auth = parseClientFrame(R"({"type":"authenticate","token":"t","id":1})", scope);
  EXPECT_TRUE(auth.status.isOk());
  EXPECT_EQ(auth.command.token, "t");
  // Depth is checked before anything, authenticated or not.
  EXPECT_TRUE(parseClientFrame(deepPublish(1000), scope).too_deep);
}

TEST(ClientProtocolTest, PeekFrameIdReadsOnlyTheId) {
  EXPECT_EQ(peekFrameId(R"({"type":"ping","id":42})"), std::optional<uint64_t>(42));
  EXPECT_EQ(peekFrameId(R"({"id":-1})"), std::nullopt);
  EXPECT_EQ(peekFrameId(R"({"type":"ping"})"), std::nullopt);
  EXPECT_EQ(peekFrameId("not json"), std::nullopt);
  EXPECT_EQ(peekFrameId(R"({"id":1,"x":)" + std::string(100000, '[') + "}"), std::nullopt);
}

}  // namespace
}  // namespace herald::node
