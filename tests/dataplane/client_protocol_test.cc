#include "dataplane/client_protocol.h"

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

TEST(ClientProtocolTest, ParsesOtherCommands) {
  EXPECT_EQ(parseClientFrame(R"({"type":"ping"})").command.type, CommandType::kPing);
  auto un = parseClientFrame(R"({"type":"unsubscribe","channels":["a"]})");
  EXPECT_TRUE(un.status.isOk());
  EXPECT_EQ(un.command.type, CommandType::kUnsubscribe);
  auto pub = parseClientFrame(R"({"type":"publish","channel":"chat:1","data":{"t": "hi"}})");
  ASSERT_TRUE(pub.status.isOk());
  EXPECT_EQ(pub.command.channel, "chat:1");
  EXPECT_EQ(pub.command.data, R"({"t":"hi"})");
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

}  // namespace
}  // namespace herald::node
