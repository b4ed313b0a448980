// The client protocol (docs/protocol.md) frame by frame, through a mock transport: no loop,
// no sockets. The integration tests check the same behaviour over real WebSockets.
#include "dataplane/session/client_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "dataplane/session/session_harness.h"
#include "support/jwt_tokens.h"

namespace herald::node {
namespace {

using ::testing::_;
using testing::FakeClient;
using testing::kJwtSecret;
using testing::makeSettings;
using testing::page;
using ::testing::Return;
using testing::ShardHarness;

std::string tokenFor(const std::string& user, int64_t ttl_s = 3600) {
  return herald::testing::signToken(
      "HS256", kJwtSecret, {{"sub", user}, {"exp", herald::testing::nowSeconds() + ttl_s}});
}

NodeSettingsPtr anonymousAllowed() {
  return makeSettings(
      [](herald::v1::ConfigSnapshot* s) { s->mutable_auth()->set_allow_anonymous(true); });
}

TEST(ClientSessionTest, AnonymousClientIsGreetedAndSubscribedFromTheUrl) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect("/ws?subscribe=news,chat:a");
  ASSERT_EQ(c.received.size(), 1u);
  const auto connected = c.frame(0);
  EXPECT_EQ(connected["type"], "connected");
  EXPECT_EQ(connected["client"], "node-test-3-1");
  EXPECT_EQ(connected["user"], "");
  EXPECT_EQ(connected["subscribed"], nlohmann::json({"news", "chat:a"}));
  ASSERT_NE(shard.state->channels.find("news"), nullptr);
  EXPECT_EQ(shard.state->counters.subscriptions.load(), 2u);
}

TEST(ClientSessionTest, ABadUrlSubscriptionIsReportedAfterConnectedAndSubscribesNothing) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect("/ws?subscribe=news,bad%20name");
  ASSERT_EQ(c.received.size(), 2u);
  EXPECT_EQ(c.frame(0)["subscribed"], nlohmann::json::array());
  EXPECT_EQ(c.frame(1)["code"], "bad_request");
  EXPECT_EQ(shard.state->channels.find("news"), nullptr);
}

TEST(ClientSessionTest, WithoutATokenOnlyAuthenticateIsAnswered) {
  ShardHarness shard;
  FakeClient& c = shard.connect();
  EXPECT_TRUE(c.received.empty()) << "nothing is sent before authentication";
  c.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"news"}}});
  ASSERT_EQ(c.received.size(), 1u);
  EXPECT_EQ(c.last()["code"], "unauthorized");
  EXPECT_EQ(c.last()["id"], 1);
  EXPECT_FALSE(c.session.greeted());

  c.send({{"type", "authenticate"}, {"id", 2}, {"token", tokenFor("alice")}});
  EXPECT_EQ(c.last()["type"], "connected");
  EXPECT_EQ(c.last()["id"], 2);
  EXPECT_EQ(c.last()["user"], "alice");
  EXPECT_TRUE(c.session.greeted());
  EXPECT_EQ(shard.state->users.count("alice"), 1u);
}

TEST(ClientSessionTest, AnInvalidUrlTokenGetsAnErrorAndClose4001) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=not.a.token");
  ASSERT_EQ(c.received.size(), 1u);
  EXPECT_EQ(c.frame(0)["code"], "unauthorized");
  ASSERT_EQ(c.closes.size(), 1u);
  EXPECT_EQ(c.closes[0].first, kCloseUnauthorized);
  EXPECT_EQ(shard.state->counters.auth_failures.load(), 1u);
}

TEST(ClientSessionTest, AnOverlongTokenIsRefusedUnread) {
  ShardHarness shard;
  FakeClient& c = shard.connect();
  c.send({{"type", "authenticate"}, {"id", 1}, {"token", std::string(kMaxTokenBytes + 1, 'a')}});
  EXPECT_EQ(c.last()["code"], "unauthorized");
  EXPECT_EQ(shard.state->counters.tokens_too_long.load(), 1u);
}

TEST(ClientSessionTest, RefreshKeepsTheUserAndAnotherUsersTokenIsRefused) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice", 60));
  ASSERT_EQ(c.frame(0)["user"], "alice");
  c.send({{"type", "authenticate"}, {"id", 7}, {"token", tokenFor("alice", 7200)}});
  EXPECT_EQ(c.last(), nlohmann::json({{"type", "reply"}, {"id", 7}, {"ok", true}}));
  // The refreshed expiry applies: an hour from now the connection is not yet due.
  const int64_t in_an_hour = herald::testing::nowSeconds() + 3600;
  EXPECT_EQ(c.session.deadlinePassed(in_an_hour, 0, 5000), 0);

  c.send({{"type", "authenticate"}, {"id", 8}, {"token", tokenFor("bob")}});
  EXPECT_EQ(c.last()["code"], "permission_denied");
  EXPECT_EQ(c.session.user(), "alice");
}

TEST(ClientSessionTest, AnExpiredTokenClosesWith4002OnTheSweep) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice", 30));
  const int64_t later = herald::testing::nowSeconds() + 31;
  const uint16_t code = c.session.deadlinePassed(later, 0, 5000);
  ASSERT_EQ(code, kCloseTokenExpired);
  c.session.closeForDeadline(code);
  ASSERT_EQ(c.closes.size(), 1u);
  EXPECT_EQ(c.closes[0], std::make_pair(kCloseTokenExpired, std::string("token expired")));
  EXPECT_EQ(shard.state->counters.tokens_expired.load(), 1u);
}

TEST(ClientSessionTest, NoTokenWithinTheDeadlineClosesWith4001) {
  ShardHarness shard;
  FakeClient& c = shard.connect();
  const int64_t now_ms = steadyMillis();
  EXPECT_EQ(c.session.deadlinePassed(0, now_ms, 5000), 0) << "not yet";
  const uint16_t code = c.session.deadlinePassed(0, now_ms + 5000, 5000);
  ASSERT_EQ(code, kCloseUnauthorized);
  c.session.closeForDeadline(code);
  EXPECT_EQ(c.closes.at(0).second, "authentication required");
  EXPECT_EQ(shard.state->counters.auth_timeouts.load(), 1u);
}

TEST(ClientSessionTest, AUserAtItsClusterLimitIsClosedWith4030) {
  ShardHarness shard;
  shard.blocked_users.set("alice", true);
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice"));
  EXPECT_EQ(c.frame(0)["code"], "limit_exceeded");
  ASSERT_EQ(c.closes.size(), 1u);
  EXPECT_EQ(c.closes[0].first, kCloseUserLimit);
  EXPECT_TRUE(shard.state->users.empty());
}

TEST(ClientSessionTest, PingGetsPongWithItsId) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  c.send({{"type", "ping"}, {"id", 42}});
  EXPECT_EQ(c.last(), nlohmann::json({{"type", "pong"}, {"id", 42}}));
}

TEST(ClientSessionTest, BinaryAndMalformedFramesGetBadRequestAndTheConnectionStays) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  c.session.onFrame("{\"type\":\"ping\"}", /*text=*/false);
  EXPECT_EQ(c.last()["code"], "bad_request");
  c.session.onFrame(std::string(100, '[') + std::string(100, ']'), true);
  EXPECT_EQ(c.last()["code"], "bad_request");
  EXPECT_EQ(shard.state->counters.json_too_deep.load(), 1u);
  c.session.onFrame("{\"type\":\"teleport\",\"id\":3}", true);
  EXPECT_EQ(c.last()["code"], "bad_request");
  EXPECT_EQ(c.last()["id"], 3);
  EXPECT_TRUE(c.closes.empty());
}

TEST(ClientSessionTest, SubscribeChecksTheRuleAndIsAllOrNothing) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice"));
  c.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"news", "user:bob"}}});
  EXPECT_EQ(c.last()["code"], "permission_denied");
  EXPECT_EQ(shard.state->channels.find("news"), nullptr) << "nothing of a refused frame";
  EXPECT_EQ(shard.state->counters.subscribe_denied.load(), 1u);

  c.send({{"type", "subscribe"}, {"id", 2}, {"channels", {"news", "user:alice"}}});
  EXPECT_EQ(
      c.last(),
      nlohmann::json(
          {{"type", "reply"}, {"id", 2}, {"ok", true}, {"channels", {"news", "user:alice"}}}));
  EXPECT_NE(shard.state->channels.find("user:alice"), nullptr);
  EXPECT_EQ(shard.interest.channels(), 2u);
}

TEST(ClientSessionTest, SubscriptionLimitsAreEnforced) {
  ShardHarness shard(makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    s->mutable_limits()->set_max_subscriptions_per_connection(2);
    s->mutable_namespaces(1)->set_max_subscribers(1);  // chat: one subscriber per channel
  }));
  FakeClient& c = shard.connect();
  c.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"a", "b", "c"}}});
  EXPECT_EQ(c.last()["code"], "limit_exceeded");
  c.send({{"type", "subscribe"}, {"id", 2}, {"channels", {"chat:x"}}});
  EXPECT_EQ(c.last()["ok"], true);
  FakeClient& other = shard.connect();
  other.send({{"type", "subscribe"}, {"id", 3}, {"channels", {"chat:x"}}});
  EXPECT_EQ(other.last()["code"], "limit_exceeded");
  EXPECT_EQ(shard.state->counters.subscribe_over_limit.load(), 2u);
}

TEST(ClientSessionTest, UnsubscribeLeavesTheIndexAndTheInterest) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect("/ws?subscribe=news");
  c.send({{"type", "unsubscribe"}, {"id", 5}, {"channels", {"news", "never-subscribed"}}});
  EXPECT_EQ(c.last()["ok"], true);
  EXPECT_EQ(shard.state->channels.find("news"), nullptr);
  EXPECT_EQ(shard.interest.channels(), 0u);
  EXPECT_EQ(shard.state->counters.subscriptions.load(), 0u);
}

TEST(ClientSessionTest, ClientPublishGoesToTheUplinkAndTheAnswerToTheClient) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice"));
  herald::v1::ClientPublish sent;
  EXPECT_CALL(shard.uplink, publish(_)).WillOnce([&](const herald::v1::ClientPublish& p) {
    sent = p;
    return true;
  });
  c.send({{"type", "publish"},
          {"id", 9},
          {"channel", "chat:room"},
          {"data", {{"text", "hi"}}},
          {"idempotency_key", "k1"}});
  EXPECT_EQ(sent.channel(), "chat:room");
  EXPECT_EQ(sent.data(), "{\"text\":\"hi\"}");
  EXPECT_EQ(sent.user(), "alice");
  EXPECT_EQ(sent.client(), c.session.clientId());
  EXPECT_EQ(shardOfRequest(sent.request_id()), 3u) << "the answer must find this shard";

  auto entry = shard.state->publishes.take(sent.request_id());
  ASSERT_TRUE(entry.has_value());
  herald::v1::ClientPublishResult result;
  result.set_request_id(sent.request_id());
  result.set_offset(17);
  result.set_epoch("ep");
  entry->con->onPublishResult(result, entry->frame_id);
  EXPECT_EQ(c.last(),
            nlohmann::json(
                {{"type", "reply"}, {"id", 9}, {"ok", true}, {"offset", 17}, {"epoch", "ep"}}));
  EXPECT_EQ(shard.state->counters.client_publishes.load(), 1u);
}

TEST(ClientSessionTest, ClientPublishRefusals) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice"));
  EXPECT_CALL(shard.uplink, publish(_)).Times(0);
  c.send({{"type", "publish"}, {"id", 1}, {"channel", "news"}, {"data", 1}});
  EXPECT_EQ(c.last()["code"], "permission_denied") << "namespace without client publish";
  EXPECT_EQ(shard.state->counters.publish_denied.load(), 1u);
  ::testing::Mock::VerifyAndClearExpectations(&shard.uplink);

  EXPECT_CALL(shard.uplink, publish(_)).WillOnce(Return(false));
  c.send({{"type", "publish"}, {"id", 2}, {"channel", "chat:room"}, {"data", 1}});
  EXPECT_EQ(c.last()["code"], "unavailable") << "no link: nothing published";
  EXPECT_EQ(shard.state->publishes.size(), 0u);
}

TEST(ClientSessionTest, AnUnansweredPublishTimesOutWithUnavailable) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice"));
  ON_CALL(shard.uplink, publish(_)).WillByDefault(Return(true));
  c.send({{"type", "publish"}, {"id", 4}, {"channel", "chat:room"}, {"data", 1}});
  auto overdue = shard.state->publishes.takeOverdue(steadyMillis() + 5000);
  ASSERT_EQ(overdue.size(), 1u);
  overdue[0].con->onPublishTimeout(overdue[0].frame_id);
  EXPECT_EQ(c.last()["code"], "unavailable");
  EXPECT_EQ(c.last()["id"], 4);
}

TEST(ClientSessionTest, TooManyFramesAreRateLimitedThenClosedWith4029) {
  ShardHarness shard(makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    s->mutable_limits()->set_client_messages_per_minute(1);
    s->mutable_limits()->set_client_message_burst(1);
  }));
  FakeClient& c = shard.connect();
  c.send({{"type", "ping"}, {"id", 1}});
  EXPECT_EQ(c.last()["type"], "pong");
  c.send({{"type", "ping"}, {"id", 2}});
  EXPECT_EQ(c.last()["code"], "rate_limited");
  EXPECT_EQ(c.last()["id"], 2);
  for (int i = 0; i < 60 && c.closes.empty(); ++i) {
    c.send({{"type", "ping"}});
  }
  ASSERT_EQ(c.closes.size(), 1u);
  EXPECT_EQ(c.closes[0].first, kCloseTooManyRequests);
}

// Subscribes `c` to "news" recovering after offset 2 of epoch "e1" (plus `extra` members of
// the frame); expects `calls` history requests and keeps the last one in `asked`.
void subscribeSinceTwo(ShardHarness& shard, FakeClient& c, int calls, const nlohmann::json& extra,
                       herald::v1::RecoverRequest* asked) {
  EXPECT_CALL(shard.uplink, recover(_))
      .Times(calls)
      .WillRepeatedly([asked](const herald::v1::RecoverRequest& r) {
        *asked = r;
        return true;
      });
  nlohmann::json frame = {{"type", "subscribe"},
                          {"id", 1},
                          {"channels", {"news"}},
                          {"since", {{"news", {{"offset", 2}, {"epoch", "e1"}}}}}};
  frame.update(extra);
  c.send(frame);
}

Delivery liveDelivery(uint64_t offset) {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel("news");
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_epoch("e1");
  d.mutable_publication()->set_data("{}");
  return *makeDelivery(d);
}

TEST(ClientSessionTest, RecoveryHoldsLiveFramesUntilTheHistoryIsOut) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  herald::v1::RecoverRequest asked;
  subscribeSinceTwo(shard, c, 1, nlohmann::json::object(), &asked);
  EXPECT_EQ(asked.channel(), "news");
  EXPECT_EQ(asked.since_offset(), 2u);
  ASSERT_TRUE(c.session.recovering());

  // Offset 5 is published while the history (3, 4) is read: held, then sent once after it.
  const Delivery live = liveDelivery(5);
  EXPECT_TRUE(c.session.holdForRecovery(&live.channel, live, live.frame));
  const size_t before = c.received.size();
  c.session.onRecoveryPage(page(asked.request_id(), {3, 4}, 4));
  ASSERT_EQ(c.received.size(), before + 4);
  EXPECT_EQ(c.frame(before)["offset"], 3);
  EXPECT_EQ(c.frame(before + 1)["offset"], 4);
  EXPECT_EQ(c.frame(before + 2)["type"], "recovery");
  EXPECT_EQ(c.frame(before + 2)["recovered"], true);
  EXPECT_EQ(c.frame(before + 3)["offset"], 5);
  EXPECT_FALSE(c.session.recovering());
  EXPECT_TRUE(shard.state->recoveries.empty());
}

TEST(ClientSessionTest, AFilteredRecoverySendsOnlyMatchesEachWithTheOneBefore) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  herald::v1::RecoverRequest asked;
  subscribeSinceTwo(shard, c, 1, {{"filter", {{"key", "chain"}, {"eq", "eth"}}}}, &asked);
  ASSERT_TRUE(c.session.recovering());
  auto history = page(asked.request_id(), {3, 4, 5, 6}, 6);
  (*history.mutable_publications(0)->mutable_tags())["chain"] = "eth";
  (*history.mutable_publications(1)->mutable_tags())["chain"] = "sol";
  (*history.mutable_publications(2)->mutable_tags())["chain"] = "eth";
  const size_t before = c.received.size();
  c.session.onRecoveryPage(history);
  ASSERT_EQ(c.received.size(), before + 3);
  EXPECT_EQ(c.frame(before)["offset"], 3);
  EXPECT_EQ(c.frame(before)["prev"], 2) << "the client's own position";
  EXPECT_EQ(c.frame(before + 1)["offset"], 5);
  EXPECT_EQ(c.frame(before + 1)["prev"], 3);
  EXPECT_EQ(c.frame(before + 2)["type"], "recovery");
  EXPECT_EQ(c.frame(before + 2)["missed"], 2) << "sent, not filtered out";
  EXPECT_EQ(c.frame(before + 2)["offset"], 6) << "the stream's position, past the filtered 6";
}

TEST(ClientSessionTest, AConflatedRecoverySendsOnlyTheLatestStandingForTheRest) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  herald::v1::RecoverRequest asked;
  subscribeSinceTwo(shard, c, 2, {{"conflate_ms", 1000}}, &asked);  // two pages asked for
  ASSERT_TRUE(c.session.recovering());
  auto first = page(asked.request_id(), {3, 4}, 6);
  first.set_complete(false);
  const size_t before = c.received.size();
  c.session.onRecoveryPage(first);
  EXPECT_EQ(c.received.size(), before) << "nothing until the history is read";
  c.session.onRecoveryPage(page(asked.request_id(), {5, 6}, 6));
  ASSERT_EQ(c.received.size(), before + 2);
  EXPECT_EQ(c.frame(before)["offset"], 6);
  EXPECT_EQ(c.frame(before)["prev"], 2);
  EXPECT_EQ(c.frame(before)["conflated"], 3);
  EXPECT_EQ(c.frame(before + 1)["type"], "recovery");
  EXPECT_EQ(c.frame(before + 1)["missed"], 1);
  EXPECT_EQ(c.frame(before + 1)["offset"], 6);
}

TEST(ClientSessionTest, RecoveryWithoutALinkEndsUnrecoveredAtOnce) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  EXPECT_CALL(shard.uplink, recover(_)).WillOnce(Return(false));
  c.send({{"type", "subscribe"},
          {"id", 1},
          {"channels", {"news"}},
          {"since", {{"news", {{"offset", 2}, {"epoch", "e1"}}}}}});
  EXPECT_EQ(c.last()["type"], "recovery");
  EXPECT_EQ(c.last()["recovered"], false);
  EXPECT_EQ(c.last()["reason"], "unavailable");
  EXPECT_EQ(shard.state->counters.recoveries_failed.load(), 1u);
}

TEST(ClientSessionTest, AnOverdueRecoveryReportsTimeout) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  ON_CALL(shard.uplink, recover(_)).WillByDefault(Return(true));
  c.send({{"type", "subscribe"},
          {"id", 1},
          {"channels", {"news"}},
          {"since", {{"news", {{"offset", 2}, {"epoch", "e1"}}}}}});
  ASSERT_EQ(shard.state->recoveries.size(), 1u);
  const uint64_t id = shard.state->recoveries.begin()->first;
  EXPECT_FALSE(c.session.recoveryOverdue(id, steadyMillis()));
  EXPECT_TRUE(c.session.recoveryOverdue(id, steadyMillis() + 10000));
  c.session.failRecovery(id, "timeout");
  EXPECT_EQ(c.last()["reason"], "timeout");
}

TEST(ClientSessionTest, ARecoveryInFlightWhenTheLinkBrokeIsAskedAgainUnderANewId) {
  ShardHarness shard(anonymousAllowed());
  FakeClient& c = shard.connect();
  std::vector<herald::v1::RecoverRequest> asked;
  EXPECT_CALL(shard.uplink, recover(_)).Times(2).WillRepeatedly([&](const auto& r) {
    asked.push_back(r);
    return true;
  });
  c.send({{"type", "subscribe"},
          {"id", 1},
          {"channels", {"news"}},
          {"since", {{"news", {{"offset", 2}, {"epoch", "e1"}}}}}});
  ASSERT_EQ(asked.size(), 1u);

  c.session.reissueRecoveries();  // the NodeLink's new session
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_NE(asked[1].request_id(), asked[0].request_id());
  EXPECT_EQ(asked[1].since_offset(), 2u);
  EXPECT_EQ(asked[1].epoch(), "e1");
  ASSERT_EQ(shard.state->recoveries.size(), 1u);
  EXPECT_EQ(shard.state->recoveries.count(asked[1].request_id()), 1u);

  // A late answer to the old id finds no recovery; the new one completes it, once.
  EXPECT_EQ(shard.state->recoveries.count(asked[0].request_id()), 0u);
  const size_t before = c.received.size();
  c.session.onRecoveryPage(page(asked[0].request_id(), {3}, 3));
  EXPECT_EQ(c.received.size(), before);
  c.session.onRecoveryPage(page(asked[1].request_id(), {3}, 3));
  ASSERT_EQ(c.received.size(), before + 2);
  EXPECT_EQ(c.frame(before)["offset"], 3);
  EXPECT_EQ(c.frame(before + 1)["type"], "recovery");
  EXPECT_EQ(c.frame(before + 1)["recovered"], true);
  EXPECT_FALSE(c.session.recovering());
}

TEST(ClientSessionTest, ClosedLeavesEveryIndexOfTheShard) {
  ShardHarness shard;
  FakeClient& c = shard.connect("/ws?token=" + tokenFor("alice") + "&subscribe=news");
  ON_CALL(shard.uplink, publish(_)).WillByDefault(Return(true));
  c.send({{"type", "publish"}, {"id", 1}, {"channel", "chat:room"}, {"data", 1}});
  ASSERT_EQ(shard.interest.users(), 1u);
  c.session.closed();
  EXPECT_EQ(shard.state->channels.find("news"), nullptr);
  EXPECT_TRUE(shard.state->users.empty());
  EXPECT_EQ(shard.interest.users(), 0u);
  EXPECT_EQ(shard.interest.channels(), 0u);
  EXPECT_EQ(shard.state->publishes.size(), 0u) << "its answers have nowhere to go";
  EXPECT_EQ(shard.subscribers.count("news"), 0u);
}

TEST(ClientSessionTest, AnonymousAccessTurnedOnGreetsWaitingClients) {
  ShardHarness shard;
  FakeClient& c = shard.connect();
  ASSERT_TRUE(c.received.empty());
  shard.state->settings = anonymousAllowed();
  EXPECT_CALL(c.transport, setInboundLimit(_));
  c.session.onSettingsChanged();
  EXPECT_EQ(c.last()["type"], "connected");
}

TEST(ClientSessionTest, OpeningDuringShutdownClosesWith1012) {
  ShardHarness shard(anonymousAllowed());
  shard.state->shutting_down = true;
  FakeClient& c = shard.connect();
  ASSERT_EQ(c.closes.size(), 1u);
  EXPECT_EQ(c.closes[0].first, kCloseServiceRestart);
}

}  // namespace
}  // namespace herald::node
