// The fan-out and the outbox through mock transports: who gets a delivery, joined runs, and
// the slow-consumer policy.
#include "dataplane/fanout/fanout.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/session/session_harness.h"
#include "support/jwt_tokens.h"

namespace herald::node {
namespace {

using ::testing::_;
using testing::FakeClient;
using testing::makeSettings;
using testing::ShardHarness;

NodeSettingsPtr settings(uint32_t queue_messages = 0) {
  return makeSettings([&](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    if (queue_messages != 0) {
      s->mutable_limits()->set_outbound_queue_messages(queue_messages);
    }
  });
}

DeliveryPtr toChannel(const std::string& channel, uint64_t offset) {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel(channel);
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_data("{}");
  return makeDelivery(d);
}

DeliveryPtr toTarget(herald::v1::DeliveryTarget target, const std::string& user = "") {
  herald::v1::Deliver d;
  d.set_target(target);
  d.set_user(user);
  d.mutable_publication()->set_data("{}");
  return makeDelivery(d);
}

TEST(FanoutTest, AChannelDeliveryReachesItsSubscribersOnly) {
  ShardHarness shard(settings());
  FakeClient& a = shard.connect("/ws?subscribe=news");
  FakeClient& b = shard.connect("/ws?subscribe=news,sport");
  FakeClient& other = shard.connect("/ws?subscribe=sport");
  const size_t a0 = a.received.size(), b0 = b.received.size(), o0 = other.received.size();
  fanOut(*shard.state, {toChannel("news", 1)});
  EXPECT_EQ(a.received.size(), a0 + 1);
  EXPECT_EQ(b.received.size(), b0 + 1);
  EXPECT_EQ(other.received.size(), o0);
  EXPECT_EQ(nlohmann::json::parse(a.received.back())["offset"], 1);
  EXPECT_EQ(shard.state->counters.messages_out.load(), 2u);
}

TEST(FanoutTest, ARunOnOneChannelIsOneWritePerConnection) {
  ShardHarness shard(settings());
  FakeClient& a = shard.connect("/ws?subscribe=news");
  EXPECT_CALL(a.transport, writeFrame(_)).Times(1);
  fanOut(*shard.state, {toChannel("news", 1), toChannel("news", 2), toChannel("news", 3)});
  EXPECT_EQ(shard.state->counters.messages_out.load(), 3u) << "a joined frame counts each";
}

TEST(FanoutTest, UserAndBroadcastTargets) {
  ShardHarness shard(makeSettings());  // no anonymous access: a client may wait for a token
  const std::string token =
      herald::testing::signToken("HS256", testing::kJwtSecret,
                                 {{"sub", "alice"}, {"exp", herald::testing::nowSeconds() + 60}});
  FakeClient& alice = shard.connect("/ws?token=" + token);
  FakeClient& waiting = shard.connect();
  ASSERT_TRUE(waiting.received.empty());
  fanOut(*shard.state, {toTarget(herald::v1::DELIVERY_TARGET_USER, "alice"),
                        toTarget(herald::v1::DELIVERY_TARGET_USER, "bob"),
                        toTarget(herald::v1::DELIVERY_TARGET_ALL)});
  EXPECT_EQ(alice.received.size(), 3u) << "connected, her message, the broadcast";
  EXPECT_TRUE(waiting.received.empty()) << "nothing before authentication";
}

// What the heartbeat reports for ClusterStats' windows: deliveries by namespace label (the
// configured name, else "(default)"; "(all)" for broadcasts) and by channel.
TEST(FanoutTest, DeliveriesAreTalliedPerNamespaceAndChannel) {
  ShardHarness shard(makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    s->add_namespaces()->set_name("prices");
  }));
  shard.connect("/ws?subscribe=prices:eur");
  shard.connect("/ws?subscribe=prices:eur,news");
  fanOut(*shard.state,
         {toChannel("prices:eur", 1), toChannel("prices:eur", 2), toChannel("news", 1),
          toChannel("nobody", 1), toTarget(herald::v1::DELIVERY_TARGET_ALL)});
  herald::v1::NodeStats stats;
  shard.state->deliveries.report(32, &stats);
  std::map<std::string, uint64_t> namespaces;
  for (const auto& e : stats.namespace_deliveries()) {
    namespaces[e.name()] = e.deliveries();
  }
  EXPECT_EQ(namespaces,
            (std::map<std::string, uint64_t>{{"prices", 4}, {"(default)", 1}, {"(all)", 2}}));
  ASSERT_EQ(stats.channel_deliveries_size(), 2) << "a channel without subscribers is no entry";
  EXPECT_EQ(stats.channel_deliveries(0).name(), "prices:eur");
  EXPECT_EQ(stats.channel_deliveries(0).deliveries(), 4u);
  EXPECT_EQ(stats.channel_deliveries(1).name(), "news");
  EXPECT_EQ(stats.channel_deliveries(1).deliveries(), 1u);
}

TEST(FanoutTest, ALaggingClientIsQueuedAndFlushedInOrder) {
  ShardHarness shard(settings());
  FakeClient& a = shard.connect("/ws?subscribe=news");
  const size_t a0 = a.received.size();
  a.buffered = 1 << 30;  // the socket is full
  fanOut(*shard.state, {toChannel("news", 1)});
  fanOut(*shard.state, {toChannel("news", 2)});
  EXPECT_EQ(a.received.size(), a0) << "queued, not written";
  EXPECT_EQ(shard.flush_requests, 1);
  EXPECT_EQ(shard.state->counters.backlogged_connections.load(), 1u);
  a.buffered = 0;
  EXPECT_FALSE(shard.state->outbox.flush()) << "drained: no queue left";
  ASSERT_EQ(a.received.size(), a0 + 2);
  EXPECT_EQ(nlohmann::json::parse(a.received[a0])["offset"], 1);
  EXPECT_EQ(nlohmann::json::parse(a.received[a0 + 1])["offset"], 2);
  EXPECT_EQ(shard.state->counters.backlogged_connections.load(), 0u);
}

TEST(FanoutTest, AFullQueueDropsOldestOrDisconnectsPerNamespace) {
  ShardHarness shard(settings(/*queue_messages=*/2));
  FakeClient& news = shard.connect("/ws?subscribe=news");          // default policy: drop oldest
  FakeClient& ticker = shard.connect("/ws?subscribe=ticker:btc");  // policy: disconnect
  news.buffered = ticker.buffered = 1 << 30;
  for (uint64_t i = 1; i <= 3; ++i) {
    fanOut(*shard.state, {toChannel("news", i)});
    fanOut(*shard.state, {toChannel("ticker:btc", i)});
  }
  EXPECT_TRUE(news.closes.empty());
  EXPECT_EQ(shard.state->counters.messages_dropped.load(), 1u);
  ASSERT_EQ(ticker.closes.size(), 1u);
  EXPECT_EQ(ticker.closes[0].first, kCloseSlowConsumer);
  EXPECT_EQ(shard.state->counters.slow_consumers_closed.load(), 1u);
}

TEST(FanoutTest, RepliesKeepTheirPlaceBehindQueuedFrames) {
  ShardHarness shard(settings());
  FakeClient& a = shard.connect("/ws?subscribe=news");
  const size_t a0 = a.received.size();
  a.buffered = 1 << 30;
  fanOut(*shard.state, {toChannel("news", 1)});
  a.send({{"type", "ping"}, {"id", 1}});
  a.buffered = 0;
  shard.state->outbox.flush();
  ASSERT_EQ(a.received.size(), a0 + 2);
  EXPECT_EQ(nlohmann::json::parse(a.received[a0])["offset"], 1);
  EXPECT_EQ(nlohmann::json::parse(a.received[a0 + 1])["type"], "pong");
}

}  // namespace
}  // namespace herald::node
