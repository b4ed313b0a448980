// The fan-out and the outbox through mock transports: who gets a delivery, joined runs, and
// the slow-consumer policy.
#include "dataplane/fanout/fanout.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "dataplane/fanout/group_delivery.h"
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

DeliveryPtr tagged(const std::string& channel, uint64_t offset, const std::string& chain) {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel(channel);
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_epoch("e1");
  d.mutable_publication()->set_data("{}");
  (*d.mutable_publication()->mutable_tags())["chain"] = chain;
  return makeDelivery(d);
}

void subscribeFiltered(FakeClient& client, const std::string& channel, const std::string& chain) {
  client.send({{"type", "subscribe"},
               {"id", 1},
               {"channels", {channel}},
               {"filter", {{"key", "chain"}, {"eq", chain}}}});
  ASSERT_EQ(client.last()["type"], "reply") << client.received.back();
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

TEST(FanoutTest, AFilteredSubscriptionGetsMatchingPublicationsWithTheLastMatchedOffset) {
  ShardHarness shard(settings());
  FakeClient& eth1 = shard.connect();
  FakeClient& eth2 = shard.connect();
  FakeClient& sol = shard.connect();
  FakeClient& all = shard.connect("/ws?subscribe=news");
  subscribeFiltered(eth1, "news", "eth");
  subscribeFiltered(eth2, "news", "eth");
  subscribeFiltered(sol, "news", "sol");
  ASSERT_EQ(shard.state->channels.find("news")->groups.size(), 2u) << "eth1 and eth2 share";
  const size_t e0 = eth1.received.size(), s0 = sol.received.size(), a0 = all.received.size();

  for (const auto& [offset, chain] :
       {std::pair<uint64_t, std::string>{1, "eth"}, {2, "sol"}, {3, "btc"}, {4, "eth"}}) {
    fanOut(*shard.state, {tagged("news", offset, chain)});
  }
  ASSERT_EQ(eth1.received.size(), e0 + 2);
  EXPECT_EQ(eth1.frame(e0)["offset"], 1);
  EXPECT_EQ(eth1.frame(e0)["prev"], 0) << "nothing matched before";
  EXPECT_EQ(eth1.frame(e0)["tags"], nlohmann::json({{"chain", "eth"}}));
  EXPECT_EQ(eth1.frame(e0 + 1)["offset"], 4);
  EXPECT_EQ(eth1.frame(e0 + 1)["prev"], 1) << "2 and 3 were filtered out, not lost";
  EXPECT_EQ(eth2.received.back(), eth1.received.back()) << "one frame per group";
  ASSERT_EQ(sol.received.size(), s0 + 1);
  EXPECT_EQ(sol.frame(s0)["offset"], 2);
  ASSERT_EQ(all.received.size(), a0 + 4);
  EXPECT_FALSE(all.frame(a0 + 3).contains("prev")) << "unfiltered frames have no prev";
  EXPECT_EQ(shard.state->counters.messages_out.load(), 2u + 2u + 1u + 4u);
}

TEST(FanoutTest, ARunIsFilteredPerGroupAndWrittenOncePerConnection) {
  ShardHarness shard(settings());
  FakeClient& eth = shard.connect();
  subscribeFiltered(eth, "news", "eth");
  EXPECT_CALL(eth.transport, writeFrame(_)).Times(1);
  fanOut(*shard.state,
         {tagged("news", 5, "eth"), tagged("news", 6, "sol"), tagged("news", 7, "eth")});
  EXPECT_EQ(shard.state->counters.messages_out.load(), 2u);
  auto* entry = shard.state->channels.find("news");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->groups[0].prev, 7u);
}

TEST(FanoutTest, OffsetsLostBeforeTheNodeRaiseAGroupsNextPrev) {
  ShardHarness shard(settings());
  FakeClient& eth = shard.connect();
  subscribeFiltered(eth, "news", "eth");
  const size_t e0 = eth.received.size();
  fanOut(*shard.state, {tagged("news", 1, "eth")});
  fanOut(*shard.state, {tagged("news", 2, "sol")});
  // 3..6 never reached the node (e.g. a link break history could not fill).
  fanOut(*shard.state, {tagged("news", 7, "sol"), tagged("news", 8, "eth")});
  fanOut(*shard.state, {tagged("news", 9, "eth")});
  ASSERT_EQ(eth.received.size(), e0 + 3);
  EXPECT_EQ(eth.frame(e0 + 1)["offset"], 8);
  EXPECT_EQ(eth.frame(e0 + 1)["prev"], 6) << "above the client's 1: a loss it must see";
  EXPECT_EQ(eth.frame(e0 + 2)["prev"], 8) << "and only once";
}

TEST(FanoutTest, AChannelTakesAtMost64DifferentShapesPerShard) {
  ShardHarness shard(settings());
  for (int i = 0; i < 64; ++i) {
    FakeClient& c = shard.connect();
    subscribeFiltered(c, "news", "v" + std::to_string(i));
  }
  FakeClient& one_more = shard.connect();
  one_more.send({{"type", "subscribe"},
                 {"id", 9},
                 {"channels", {"news"}},
                 {"filter", {{"key", "chain"}, {"eq", "new"}}}});
  EXPECT_EQ(one_more.last()["code"], "limit_exceeded") << one_more.received.back();
  EXPECT_EQ(one_more.last()["id"], 9);
  subscribeFiltered(one_more, "news", "v7");  // joining an existing one is fine
  FakeClient& plain = shard.connect("/ws?subscribe=news");
  EXPECT_EQ(shard.state->channels.find("news")->plain.size(), 1u) << &plain;
}

TEST(FanoutTest, UnsubscribingAndClosingLeaveTheFilterGroup) {
  ShardHarness shard(settings());
  FakeClient& a = shard.connect();
  FakeClient& b = shard.connect();
  subscribeFiltered(a, "news", "eth");
  subscribeFiltered(b, "news", "eth");
  a.send({{"type", "unsubscribe"}, {"id", 2}, {"channels", {"news"}}});
  ASSERT_EQ(shard.state->channels.find("news")->size(), 1u);
  b.session.closed();
  EXPECT_EQ(shard.state->channels.find("news"), nullptr);
  EXPECT_EQ(shard.state->channels.subscriptions(), 0u);
  // A new subscription without a filter is plain again.
  a.send({{"type", "subscribe"}, {"id", 3}, {"channels", {"news"}}});
  ASSERT_NE(shard.state->channels.find("news"), nullptr);
  EXPECT_EQ(shard.state->channels.find("news")->plain.size(), 1u);
}

void subscribeConflated(FakeClient& client, const std::string& channel, uint32_t ms) {
  client.send({{"type", "subscribe"}, {"id", 1}, {"channels", {channel}}, {"conflate_ms", ms}});
  ASSERT_EQ(client.last()["type"], "reply") << client.received.back();
}

TEST(FanoutTest, AConflatedSubscriptionGetsTheFirstAtOnceThenTheLatestPerInterval) {
  ShardHarness shard(settings());
  FakeClient& ticker = shard.connect();
  FakeClient& same = shard.connect();
  FakeClient& all = shard.connect("/ws?subscribe=news");
  subscribeConflated(ticker, "news", 100);
  subscribeConflated(same, "news", 100);
  const size_t t0 = ticker.received.size(), a0 = all.received.size();
  for (uint64_t offset = 1; offset <= 4; ++offset) {
    fanOut(*shard.state, {tagged("news", offset, "eth")});
  }
  ASSERT_EQ(ticker.received.size(), t0 + 1) << "2..4 are held back";
  EXPECT_EQ(ticker.frame(t0)["offset"], 1);
  EXPECT_EQ(ticker.frame(t0)["prev"], 0);
  EXPECT_EQ(ticker.frame(t0)["conflated"], 0);
  EXPECT_EQ(all.received.size(), a0 + 4) << "an unconflated subscriber gets every one";
  EXPECT_EQ(shard.state->conflation.size(), 1u) << "one timer entry for the group";

  EXPECT_EQ(flushConflated(*shard.state, steadyMillis() - 1000), 0u) << "not due yet";
  EXPECT_EQ(flushConflated(*shard.state, steadyMillis() + 1000), 2u);
  ASSERT_EQ(ticker.received.size(), t0 + 2);
  EXPECT_EQ(ticker.frame(t0 + 1)["offset"], 4) << "the latest";
  EXPECT_EQ(ticker.frame(t0 + 1)["prev"], 1);
  EXPECT_EQ(ticker.frame(t0 + 1)["conflated"], 2) << "it replaced 2 and 3";
  EXPECT_EQ(same.received.back(), ticker.received.back()) << "one frame per group";
  EXPECT_EQ(shard.state->conflation.size(), 0u);
}

TEST(FanoutTest, ANamespaceIntervalIsTheLeastAndAGroupGoneWithItsPendingIsSkipped) {
  ShardHarness shard(makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    auto* ns = s->add_namespaces();
    ns->set_name("px");
    ns->set_conflate_ms(200);
  }));
  FakeClient& low = shard.connect("/ws?subscribe=px:btc");
  FakeClient& high = shard.connect();
  subscribeConflated(high, "px:btc", 500);
  auto* entry = shard.state->channels.find("px:btc");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->plain.empty()) << "the namespace's interval applies to ?subscribe= too";
  ASSERT_EQ(entry->groups.size(), 2u);
  EXPECT_NE(entry->group(nullptr, 200), nullptr);
  EXPECT_NE(entry->group(nullptr, 500), nullptr);

  fanOut(*shard.state, {tagged("px:btc", 1, "x")});
  fanOut(*shard.state, {tagged("px:btc", 2, "x")});
  EXPECT_EQ(shard.state->conflation.size(), 2u);
  const size_t h0 = high.received.size();
  high.send({{"type", "unsubscribe"}, {"id", 2}, {"channels", {"px:btc"}}});
  low.session.closed();
  EXPECT_EQ(shard.state->channels.find("px:btc"), nullptr);
  EXPECT_EQ(flushConflated(*shard.state, steadyMillis() + 10000), 0u);
  EXPECT_EQ(high.received.size(), h0 + 1) << "only the unsubscribe's reply";
}

DeliveryPtr inEpoch(uint64_t offset, const std::string& epoch) {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel("news");
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_epoch(epoch);
  d.mutable_publication()->set_data("{}");
  (*d.mutable_publication()->mutable_tags())["chain"] = "eth";
  return makeDelivery(d);
}

TEST(FanoutTest, ALossInANewEpochShowsToo) {
  ShardHarness shard(settings());
  FakeClient& eth = shard.connect();
  subscribeFiltered(eth, "news", "eth");
  fanOut(*shard.state, {inEpoch(1000, "old")});
  fanOut(*shard.state, {inEpoch(1, "new")});
  fanOut(*shard.state, {inEpoch(2, "new")});
  fanOut(*shard.state, {inEpoch(7, "new")});  // 3..6 lost
  EXPECT_EQ(eth.last()["offset"], 7);
  EXPECT_EQ(eth.last()["prev"], 6) << "offsets start over in a new epoch, losses included";
}

TEST(FanoutTest, AGroupMadeAgainIsNotFlushedByItsPredecessorsTimer) {
  ShardHarness shard(settings());
  FakeClient& first = shard.connect();
  subscribeConflated(first, "news", 100);
  const uint64_t old_id = shard.state->channels.find("news")->group(nullptr, 100)->id;
  first.send({{"type", "unsubscribe"}, {"id", 2}, {"channels", {"news"}}});
  FakeClient& again = shard.connect();
  subscribeConflated(again, "news", 100);          // the same shape: a new group
  fanOut(*shard.state, {tagged("news", 3, "x")});  // sent at once: the new group is quiet
  fanOut(*shard.state, {tagged("news", 4, "x")});  // held back by the new group
  auto* group = shard.state->channels.find("news")->group(nullptr, 100);
  ASSERT_NE(group, nullptr);
  ASSERT_NE(group->id, old_id);
  // What the old group left in the schedule, due long ago, must not flush the new one early.
  shard.state->conflation.schedule(ConflationDue{0, "news", nullptr, 100, old_id});
  const size_t a0 = again.received.size();
  flushConflated(*shard.state, group->next_send_ms - 1);
  EXPECT_EQ(again.received.size(), a0);
  flushConflated(*shard.state, group->next_send_ms);
  ASSERT_EQ(again.received.size(), a0 + 1);
  EXPECT_EQ(again.last()["offset"], 4);
}

TEST(FanoutTest, TheNamespacesOwnShapeIsAlwaysAdmitted) {
  ShardHarness shard(makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    auto* ns = s->add_namespaces();
    ns->set_name("px");
    ns->set_conflate_ms(200);
  }));
  for (int i = 0; i < 64; ++i) {
    FakeClient& c = shard.connect();
    subscribeConflated(c, "px:btc", 201 + i);
  }
  FakeClient& usual = shard.connect("/ws?subscribe=px:btc");
  EXPECT_NE(shard.state->channels.find("px:btc")->group(nullptr, 200), nullptr)
      << "subscribed: " << usual.received.front();
  FakeClient& odd = shard.connect();
  odd.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"px:btc"}}, {"conflate_ms", 999}});
  EXPECT_EQ(odd.last()["code"], "limit_exceeded");
}

TEST(FanoutTest, AHeldBackPublicationARecoveryCoveredIsNotSentAfterIt) {
  ShardHarness shard(settings());
  FakeClient& other = shard.connect();
  subscribeConflated(other, "news", 100);
  fanOut(*shard.state, {tagged("news", 5, "x")});
  fanOut(*shard.state, {tagged("news", 6, "x")});  // held back for the group
  herald::v1::RecoverRequest asked;
  EXPECT_CALL(shard.uplink, recover(_)).WillOnce([&](const herald::v1::RecoverRequest& r) {
    asked = r;
    return true;
  });
  FakeClient& late = shard.connect();
  late.send({{"type", "subscribe"},
             {"id", 1},
             {"channels", {"news"}},
             {"conflate_ms", 100},
             {"since", {{"news", {{"offset", 4}, {"epoch", "e1"}}}}}});
  late.session.onRecoveryPage(testing::page(asked.request_id(), {5, 6}, 6));
  ASSERT_EQ(late.last()["type"], "recovery");
  const size_t l0 = late.received.size();
  flushConflated(*shard.state, steadyMillis() + 1000);
  EXPECT_EQ(late.received.size(), l0) << "6 came in the recovery already";
  EXPECT_EQ(other.last()["offset"], 6);
  fanOut(*shard.state, {tagged("news", 7, "x")});  // held back: the flush just sent one
  flushConflated(*shard.state, steadyMillis() + 5000);
  EXPECT_EQ(late.last()["type"], "message");
  EXPECT_EQ(late.last()["offset"], 7) << "later ones come";
  EXPECT_EQ(late.last()["prev"], 6);
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
