// Client publish (docs/protocol.md#publishing-from-a-client) on real nodes: the namespace
// flag and subscribe rule decide, the control plane assigns the offset and answers, every
// subscriber on every node gets the publication with its sender, a retry with the same
// idempotency key is not published twice, and a node without its control plane says so.
#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using nlohmann::json;

std::string token(const std::string& sub) {
  return signToken("HS256", kTestJwtSecret, {{"sub", sub}, {"exp", nowSeconds() + 3600}}, "test");
}

class ClientPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(2));
    setNamespace("chat", herald::v1::SUBSCRIBE_RULE_AUTHENTICATED, true, /*create=*/true);
    setNamespace("inbox", herald::v1::SUBSCRIBE_RULE_OWNER, true, /*create=*/true);
    setNamespace("news", herald::v1::SUBSCRIBE_RULE_PUBLIC, false, /*create=*/true);
    ASSERT_TRUE(cluster_.waitAckedVersion(version_));
  }

  void setNamespace(const std::string& name, herald::v1::SubscribeRule rule, bool publish,
                    bool create) {
    herald::v1::Namespace ns;
    ns.set_name(name);
    ns.set_subscribe_rule(rule);
    ns.set_allow_client_publish(publish);
    ns.set_history_size(100);
    ns.set_history_ttl_seconds(600);
    grpc::ClientContext ctx;
    if (create) {
      herald::v1::CreateNamespaceRequest req;
      *req.mutable_namespace_() = ns;
      herald::v1::CreateNamespaceResponse resp;
      ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, req, &resp).ok());
      version_ = resp.config_version();
    } else {
      herald::v1::UpdateNamespaceRequest req;
      *req.mutable_namespace_() = ns;
      herald::v1::UpdateNamespaceResponse resp;
      ASSERT_TRUE(cluster_.api().UpdateNamespace(&ctx, req, &resp).ok());
      version_ = resp.config_version();
    }
  }

  std::unique_ptr<WsClient> connect(size_t node, const std::string& user) {
    return connectGreeted(cluster_.wsUrl(node, user.empty() ? "" : "token=" + token(user)));
  }

  static json answer(WsClient& ws) { return ws.nextAnswer(10s); }

  static json subscribe(WsClient& ws, const std::string& channel) {
    ws.send(json{{"type", "subscribe"}, {"channels", {channel}}, {"id", 1}}.dump());
    return answer(ws);
  }

  static json publish(WsClient& ws, const std::string& channel, const json& data, int id,
                      const std::string& key = "", const std::string& event = "") {
    json frame = {{"type", "publish"}, {"channel", channel}, {"data", data}, {"id", id}};
    if (!key.empty()) {
      frame["idempotency_key"] = key;
    }
    if (!event.empty()) {
      frame["event"] = event;
    }
    ws.send(frame.dump());
    return answer(ws);
  }

  json stats(size_t node) {
    return json::parse(httpGet(cluster_.nodeAddress(node), "/stats").body);
  }

  Cluster cluster_;
  uint64_t version_ = 0;
};

TEST_F(ClientPublishTest, ReachesSubscribersOnEveryNodeWithItsSender) {
  auto alice = connect(0, "alice");
  auto carol = connect(0, "carol");
  auto bob = connect(1, "bob");
  ASSERT_EQ(subscribe(*carol, "chat:lobby")["type"], "reply");
  ASSERT_EQ(subscribe(*bob, "chat:lobby")["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("chat:lobby", 2));

  json reply = publish(*alice, "chat:lobby", {{"text", "hi"}}, 7, "", "said");
  ASSERT_EQ(reply["type"], "reply") << reply;
  EXPECT_EQ(reply["id"], 7);
  EXPECT_EQ(reply["offset"], 1);
  EXPECT_FALSE(reply.contains("duplicate"));
  for (WsClient* reader : {carol.get(), bob.get()}) {
    auto message = reader->nextOfType("message", 10s);
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ((*message)["channel"], "chat:lobby");
    EXPECT_EQ((*message)["event"], "said");
    EXPECT_EQ((*message)["offset"], 1);
    EXPECT_EQ((*message)["epoch"], reply["epoch"]);
    EXPECT_EQ((*message)["data"], (json{{"text", "hi"}}));
    EXPECT_EQ((*message)["publisher"]["user"], "alice");
    EXPECT_TRUE((*message)["publisher"]["client"].is_string());
  }

  // History keeps the sender, for readers who recover later.
  grpc::ClientContext ctx;
  herald::v1::HistoryRequest req;
  req.set_channel("chat:lobby");
  herald::v1::HistoryResponse history;
  ASSERT_TRUE(cluster_.api().History(&ctx, req, &history).ok());
  ASSERT_EQ(history.publications_size(), 1);
  EXPECT_EQ(history.publications(0).publisher_user(), "alice");
  EXPECT_EQ(stats(0)["client_publishes"], 1);
}

TEST_F(ClientPublishTest, NamespaceFlagAndSubscribeRuleDecideAndTheConnectionLivesOn) {
  auto alice = connect(0, "alice");
  auto anonymous = connect(0, "");
  EXPECT_EQ(publish(*alice, "news:today", {{"x", 1}}, 1)["code"], "permission_denied")
      << "news does not allow client publish";
  EXPECT_EQ(publish(*alice, "inbox:bob", {{"x", 1}}, 2)["code"], "permission_denied")
      << "owner channels take only their owner's publications";
  EXPECT_EQ(publish(*alice, "inbox:alice", {{"x", 1}}, 3)["type"], "reply");
  EXPECT_EQ(publish(*anonymous, "chat:lobby", {{"x", 1}}, 4)["code"], "permission_denied")
      << "chat needs a token";
  EXPECT_EQ(publish(*alice, "bad name", {{"x", 1}}, 5)["code"], "bad_request");
  json bad_event = publish(*alice, "chat:lobby", {{"x", 1}}, 6, "", "no spaces");
  EXPECT_EQ(bad_event["code"], "bad_request") << bad_event;
  EXPECT_EQ(bad_event["id"], 6);
  alice->send(R"({"type":"publish","channel":"chat:lobby","data":{},"event":5,"id":8})");
  EXPECT_EQ(answer(*alice)["code"], "bad_request");
  EXPECT_EQ(publish(*alice, "chat:lobby", {{"x", 2}}, 9)["type"], "reply")
      << "the connection works after every refusal";
  EXPECT_EQ(stats(0)["publish_denied"], 4);

  // Turning the flag on reaches the nodes and applies to the next publish.
  setNamespace("news", herald::v1::SUBSCRIBE_RULE_PUBLIC, true, /*create=*/false);
  ASSERT_TRUE(cluster_.waitAckedVersion(version_));
  EXPECT_EQ(publish(*anonymous, "news:today", {{"x", 3}}, 10)["type"], "reply");
}

TEST_F(ClientPublishTest, RetryWithTheSameIdempotencyKeyIsPublishedOnce) {
  auto alice = connect(0, "alice");
  auto bob = connect(1, "bob");
  auto reader = connect(1, "reader");
  ASSERT_EQ(subscribe(*reader, "chat:room")["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("chat:room", 1));

  json first = publish(*alice, "chat:room", {{"n", 1}}, 1, "msg-1");
  json retry = publish(*alice, "chat:room", {{"n", 1}}, 2, "msg-1");
  ASSERT_EQ(first["type"], "reply") << first;
  ASSERT_EQ(retry["type"], "reply") << retry;
  EXPECT_EQ(retry["offset"], first["offset"]);
  EXPECT_EQ(retry["duplicate"], true);
  // Keys belong to their user: bob's "msg-1" is a publication of its own.
  json other = publish(*bob, "chat:room", {{"n", 2}}, 3, "msg-1");
  ASSERT_EQ(other["type"], "reply") << other;
  EXPECT_FALSE(other.contains("duplicate"));
  EXPECT_EQ(other["offset"], 2);

  auto m1 = reader->nextOfType("message", 10s);
  auto m2 = reader->nextOfType("message", 10s);
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ((*m1)["offset"], 1);
  EXPECT_EQ((*m1)["publisher"]["user"], "alice");
  EXPECT_EQ((*m2)["offset"], 2) << "the retried publication must not be delivered twice";
  EXPECT_EQ((*m2)["publisher"]["user"], "bob");
}

TEST_F(ClientPublishTest, WithoutTheControlPlaneThePublisherHearsUnavailable) {
  auto alice = connect(0, "alice");
  cluster_.stopControl();
  ASSERT_TRUE(eventually(
      [&] {
        return json::parse(httpGet(cluster_.nodeAddress(0), "/health").body)["control_connected"] ==
               false;
      },
      10s));
  json refused = publish(*alice, "chat:lobby", {{"x", 1}}, 4);
  EXPECT_EQ(refused["code"], "unavailable") << refused;
  EXPECT_EQ(refused["id"], 4);
  EXPECT_GE(stats(0)["publish_failed"], 1);
  alice->send(R"({"type":"ping","id":5})");
  EXPECT_TRUE(alice->nextOfType("pong", 10s).has_value()) << "the connection lives on";

  // Back again: publishing works without reconnecting the client.
  cluster_.startControl();
  ASSERT_TRUE(cluster_.waitHealthyNodes(2));
  ASSERT_TRUE(eventually(
      [&] {
        return publish(*alice, "chat:lobby", {{"x", 2}}, 6)["type"] == "reply";
      },
      15s));
}

TEST_F(ClientPublishTest, RetriesWithTheSameKeyAfterUnavailableArePublishedExactlyOnce) {
  auto alice = connect(0, "alice");
  auto reader = connect(1, "reader");
  ASSERT_EQ(subscribe(*reader, "chat:room")["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("chat:room", 1));
  // The reader's node has a position in the stream, so that when the frozen control plane
  // wakes up and drops the nodes as silent, the node fetches what it missed on reconnecting
  // (docs/guarantees.md: streams with a delivery on the node).
  cluster_.publish("chat:room", R"({"n":0})");
  auto first = reader->nextOfType("message", 10s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ((*first)["data"]["n"], 0);

  // A frozen control plane: the node's link stays up, the answers do not come, the client
  // hears `unavailable` after 5 s, and the control plane publishes them when it wakes up.
  cluster_.control().signal(SIGSTOP);
  for (int n = 1; n <= 3; ++n) {
    alice->send(json{
        {"type", "publish"},
        {"channel", "chat:room"},
        {"data", {{"n", n}}},
        {"idempotency_key", "k" + std::to_string(n)},
        {"id", n}}.dump());
  }
  for (int n = 1; n <= 3; ++n) {
    json frame = answer(*alice);
    EXPECT_EQ(frame["code"], "unavailable") << frame;
  }
  cluster_.control().signal(SIGCONT);
  ASSERT_TRUE(cluster_.waitHealthyNodes(2));

  // The application retries what it was not sure of, with the same keys.
  for (int n = 1; n <= 3; ++n) {
    json retry;
    ASSERT_TRUE(eventually(
        [&] {
          retry = publish(*alice, "chat:room", {{"n", n}}, 10 + n, "k" + std::to_string(n));
          return retry["type"] == "reply";
        },
        15s))
        << retry;
  }
  auto sentinel = cluster_.publish("chat:room", R"({"n":"end"})");
  std::vector<int> seen;
  for (;;) {
    auto message = reader->nextOfType("message", 15s);
    ASSERT_TRUE(message.has_value()) << "reader stopped receiving";
    if ((*message)["data"]["n"] == "end") {
      break;
    }
    seen.push_back((*message)["data"]["n"].get<int>());
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3})) << "each publication exactly once";
  EXPECT_EQ(sentinel.offset(), 5u) << "nothing else was published";
}

}  // namespace
}  // namespace herald::testing
