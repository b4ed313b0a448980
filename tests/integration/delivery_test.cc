// End to end: publish over gRPC, receive on WebSocket clients of two real nodes; then restart
// the control plane and check that nodes reconnect and delivery resumes.
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

constexpr int kClientsPerNode = 5;
constexpr int kMessages = 200;
const std::string kChannel = "token:price";

struct Subscriber {
  std::unique_ptr<WsClient> ws;
  size_t node = 0;
};

// Reads `count` message frames and checks they carry offsets first..first+count-1 in order,
// exactly once, with the expected epoch and payload.
void expectSequence(WsClient& ws, uint64_t first, int count, const std::string& epoch,
                    const std::string& who) {
  for (int i = 0; i < count; ++i) {
    auto frame = ws.nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value()) << who << ": message " << first + i << " never arrived";
    const uint64_t expected = first + static_cast<uint64_t>(i);
    ASSERT_EQ((*frame)["offset"], expected) << who << ": out of order or duplicate: " << *frame;
    ASSERT_EQ((*frame)["channel"], kChannel);
    ASSERT_EQ((*frame)["epoch"], epoch);
    ASSERT_EQ((*frame)["event"], "price_update");
    ASSERT_EQ((*frame)["data"]["seq"], expected) << who;
    ASSERT_TRUE((*frame)["ts"].is_number_integer());
  }
}

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(2)) << cluster_.control().output();
  }

  // Half the clients subscribe in the URL, half with a subscribe frame.
  void connectSubscribers() {
    for (size_t node = 0; node < 2; ++node) {
      for (int i = 0; i < kClientsPerNode; ++i) {
        Subscriber s;
        s.node = node;
        const bool by_url = i % 2 == 0;
        s.ws = std::make_unique<WsClient>(
            cluster_.wsUrl(node, by_url ? "subscribe=token%3Aprice" : ""));
        ASSERT_TRUE(s.ws->waitOpen(10s)) << s.ws->failReason();
        auto connected = s.ws->next(10s);
        ASSERT_TRUE(connected.has_value());
        ASSERT_EQ((*connected)["type"], "connected");
        if (by_url) {
          ASSERT_EQ((*connected)["subscribed"], nlohmann::json::array({kChannel}));
        } else {
          s.ws->send(R"({"type":"subscribe","channels":["token:price"],"id":1})");
          auto reply = s.ws->next(10s);
          ASSERT_TRUE(reply.has_value());
          ASSERT_EQ((*reply)["type"], "reply") << *reply;
          ASSERT_EQ((*reply)["id"], 1);
          ASSERT_EQ((*reply)["ok"], true);
        }
        subscribers_.push_back(std::move(s));
      }
    }
  }

  std::string publishRange(uint64_t first, int count) {
    std::string epoch;
    for (int i = 0; i < count; ++i) {
      const uint64_t seq = first + static_cast<uint64_t>(i);
      auto resp =
          cluster_.publish(kChannel, "{\"seq\":" + std::to_string(seq) + "}", "price_update");
      EXPECT_EQ(resp.offset(), seq);
      EXPECT_EQ(resp.nodes(), 2u);
      if (epoch.empty()) {
        epoch = resp.epoch();
      }
      EXPECT_EQ(resp.epoch(), epoch);
    }
    return epoch;
  }

  Cluster cluster_;
  std::vector<Subscriber> subscribers_;
};

TEST_F(DeliveryTest, EveryClientOnEveryNodeGetsEveryMessageOnceInOrder) {
  connectSubscribers();
  ASSERT_TRUE(cluster_.waitInterest(kChannel, 2));
  const std::string epoch = publishRange(1, kMessages);
  // A sentinel after the range: the frame after the last message must be it, so nothing was
  // duplicated or reordered in between.
  cluster_.publish(kChannel, "{\"seq\":" + std::to_string(kMessages + 1) + "}", "price_update");
  for (size_t i = 0; i < subscribers_.size(); ++i) {
    const std::string who =
        "client " + std::to_string(i) + " on node " + std::to_string(subscribers_[i].node);
    expectSequence(*subscribers_[i].ws, 1, kMessages + 1, epoch, who);
  }
}

TEST_F(DeliveryTest, ControlPlaneRestartNodesReconnectAndDeliveryResumes) {
  connectSubscribers();
  ASSERT_TRUE(cluster_.waitInterest(kChannel, 2));
  const std::string epoch1 = publishRange(1, 20);
  for (auto& s : subscribers_) {
    expectSequence(*s.ws, 1, 20, epoch1, "before restart");
  }

  cluster_.stopControl(SIGTERM);
  cluster_.startControl();  // same port, same data dir
  ASSERT_TRUE(cluster_.waitHealthyNodes(2)) << cluster_.control().output();
  // Interest comes back with each node's Hello: no client had to resubscribe.
  ASSERT_TRUE(cluster_.waitInterest(kChannel, 2)) << cluster_.node(0).output();

  // In-memory offsets restarted: a new epoch tells clients history was lost.
  const std::string epoch2 = publishRange(1, 50);
  EXPECT_NE(epoch1, epoch2);
  for (auto& s : subscribers_) {
    expectSequence(*s.ws, 1, 50, epoch2, "after restart");
  }
  // Clients stayed connected the whole time.
  for (auto& s : subscribers_) {
    s.ws->send(R"({"type":"ping","id":5})");
    auto pong = s.ws->nextOfType("pong", 10s);
    ASSERT_TRUE(pong.has_value());
    EXPECT_EQ((*pong)["id"], 5);
  }
}

TEST_F(DeliveryTest, UnsubscribedAndOtherChannelClientsGetNothing) {
  WsClient a(cluster_.wsUrl(0, "subscribe=token:price,token:other"));
  WsClient b(cluster_.wsUrl(1, "subscribe=token:other"));
  ASSERT_TRUE(a.waitOpen(10s));
  ASSERT_TRUE(b.waitOpen(10s));
  ASSERT_TRUE(a.nextOfType("connected", 10s));
  ASSERT_TRUE(b.nextOfType("connected", 10s));
  a.send(R"({"type":"unsubscribe","channels":["token:price"],"id":2})");
  ASSERT_TRUE(a.nextOfType("reply", 10s));
  ASSERT_TRUE(cluster_.waitInterest("token:other", 2));
  ASSERT_TRUE(cluster_.waitInterest(kChannel, 0));
  EXPECT_EQ(cluster_.publish(kChannel, "1").nodes(), 0u) << "routing must skip uninterested nodes";
  cluster_.publish("token:other", "2");
  for (WsClient* ws : {&a, &b}) {
    auto frame = ws->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ((*frame)["channel"], "token:other") << "received a channel it does not hold";
    EXPECT_EQ((*frame)["data"], 2);
  }
}

TEST_F(DeliveryTest, BroadcastReachesEveryConnection) {
  WsClient a(cluster_.wsUrl(0));
  WsClient b(cluster_.wsUrl(1));
  ASSERT_TRUE(a.waitOpen(10s));
  ASSERT_TRUE(b.waitOpen(10s));
  ASSERT_TRUE(a.nextOfType("connected", 10s));
  ASSERT_TRUE(b.nextOfType("connected", 10s));
  grpc::ClientContext ctx;
  herald::v1::BroadcastRequest req;
  req.set_data(R"({"notice":"maintenance"})");
  req.set_event("notice");
  herald::v1::BroadcastResponse resp;
  ASSERT_TRUE(cluster_.api().Broadcast(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.nodes(), 2u);
  for (WsClient* ws : {&a, &b}) {
    auto frame = ws->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ((*frame)["broadcast"], true);
    EXPECT_EQ((*frame)["event"], "notice");
    EXPECT_EQ((*frame)["data"]["notice"], "maintenance");
  }
}

}  // namespace
}  // namespace herald::testing
