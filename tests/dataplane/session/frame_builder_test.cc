#include "dataplane/session/frame_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herald::node {
namespace {

herald::v1::Deliver channelDelivery() {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  auto* p = d.mutable_publication();
  p->set_channel("token:price");
  p->set_event("price_update");
  p->set_offset(1);
  p->set_epoch("e1");
  p->set_data("{\"price\":50000}");
  p->set_ts_unix_ms(1700000000000);
  return d;
}

TEST(FrameBuilderTest, ChannelMessageMatchesTheProtocol) {
  EXPECT_EQ(buildMessageFrame(channelDelivery()),
            "{\"type\":\"message\",\"channel\":\"token:price\",\"event\":\"price_update\","
            "\"offset\":1,\"epoch\":\"e1\",\"data\":{\"price\":50000},\"ts\":1700000000000}");
}

TEST(FrameBuilderTest, ClientPublicationsNameTheirSender) {
  auto d = channelDelivery();
  d.mutable_publication()->set_publisher_user("alice");
  d.mutable_publication()->set_publisher_client("n1-0-7");
  EXPECT_EQ(buildMessageFrame(d),
            "{\"type\":\"message\",\"channel\":\"token:price\",\"event\":\"price_update\","
            "\"offset\":1,\"epoch\":\"e1\",\"publisher\":{\"user\":\"alice\",\"client\":"
            "\"n1-0-7\"},\"data\":{\"price\":50000},\"ts\":1700000000000}");
  d.mutable_publication()->clear_publisher_user();  // an anonymous sender
  auto j = nlohmann::json::parse(buildMessageFrame(d));
  EXPECT_EQ(j["publisher"], (nlohmann::json{{"client", "n1-0-7"}}));
}

TEST(FrameBuilderTest, TagsComeSortedBeforeDataAndPrevLast) {
  auto d = channelDelivery();
  (*d.mutable_publication()->mutable_tags())["source_chain"] = "eth";
  (*d.mutable_publication()->mutable_tags())["amount_usd"] = "1000";
  (*d.mutable_publication()->mutable_tags())["note"] = "a\"b";
  const std::string frame = buildMessageFrame(d);
  EXPECT_EQ(frame,
            "{\"type\":\"message\",\"channel\":\"token:price\",\"event\":\"price_update\","
            "\"offset\":1,\"epoch\":\"e1\",\"tags\":{\"amount_usd\":\"1000\",\"note\":\"a\\\"b\","
            "\"source_chain\":\"eth\"},\"data\":{\"price\":50000},\"ts\":1700000000000}");
  const auto with_prev = nlohmann::json::parse(withPrev(frame, 41));
  EXPECT_EQ(with_prev["prev"], 41);
  EXPECT_EQ(with_prev["tags"]["note"], "a\"b");
}

TEST(FrameBuilderTest, EventIsOmittedWhenEmpty) {
  auto d = channelDelivery();
  d.mutable_publication()->clear_event();
  auto j = nlohmann::json::parse(buildMessageFrame(d));
  EXPECT_FALSE(j.contains("event"));
  EXPECT_EQ(j["offset"], 1);
}

TEST(FrameBuilderTest, UserAndBroadcastForms) {
  herald::v1::Deliver user;
  user.set_target(herald::v1::DELIVERY_TARGET_USER);
  user.set_user("we\"ird\n");
  user.mutable_publication()->set_data("[1,2]");
  auto u = nlohmann::json::parse(buildMessageFrame(user));
  EXPECT_EQ(u["user"], "we\"ird\n");
  EXPECT_FALSE(u.contains("channel"));
  EXPECT_FALSE(u.contains("offset"));
  EXPECT_EQ(u["data"], nlohmann::json::array({1, 2}));

  herald::v1::Deliver all;
  all.set_target(herald::v1::DELIVERY_TARGET_ALL);
  all.mutable_publication()->set_data("\"hi\"");
  auto b = nlohmann::json::parse(buildMessageFrame(all));
  EXPECT_EQ(b["broadcast"], true);
  EXPECT_EQ(b["data"], "hi");
}

TEST(FrameBuilderTest, EscapesControlCharacters) {
  std::string out;
  appendJsonString(&out, std::string("a\x01\\\"b", 5));
  EXPECT_EQ(out, "\"a\\u0001\\\\\\\"b\"");
}

TEST(FrameBuilderTest, JoinAndLeaveFramesListTheirConnectionsAndCountTheRest) {
  herald::v1::JoinLeave change;
  change.set_channel("chat:r\"1");
  auto* j = change.add_joined();
  j->set_client("n-0-1");
  j->set_user("al\nice");
  j->set_node_id("n");  // for the backend's eyes only: not in the client's frame
  change.add_joined()->set_client("n-0-2");
  change.set_left_unlisted(7);
  change.set_node_id("n");
  const auto join = nlohmann::json::parse(buildJoinLeaveFrame(change, true));
  EXPECT_EQ(join, nlohmann::json::parse(R"({"type":"join","channel":"chat:r\"1","node":"n",
      "clients":[{"client":"n-0-1","user":"al\nice"},{"client":"n-0-2","user":""}]})"));
  EXPECT_EQ(buildJoinLeaveFrame(change, false),
            R"({"type":"leave","channel":"chat:r\"1","node":"n","clients":[],"unlisted":7})");
  change.set_left_unlisted(0);
  EXPECT_EQ(buildJoinLeaveFrame(change, false), "") << "nothing left: no frame";

  // A node that is gone: every connection it had on the channel left.
  herald::v1::JoinLeave lost;
  lost.set_channel("chat:a");
  lost.set_node_id("n2");
  lost.set_node_lost(true);
  EXPECT_EQ(buildJoinLeaveFrame(lost, false),
            R"({"type":"leave","channel":"chat:a","node":"n2","all":true,"clients":[]})");
  EXPECT_EQ(buildJoinLeaveFrame(lost, true), "");
}

}  // namespace
}  // namespace herald::node
