// Delivery that loses nothing: history and recovery with `since` (to another node, across a
// node killed with SIGKILL, with publications racing the recovery), personal streams that a
// returning user recovers, and presence. Real binaries on loopback.
#include <atomic>
#include <csignal>
#include <map>
#include <string>
#include <thread>
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

std::string since(const std::string& channel, uint64_t offset, const std::string& epoch) {
  return json{{"type", "subscribe"},
              {"channels", {channel}},
              {"since", {{channel, {{"offset", offset}, {"epoch", epoch}}}}}}
      .dump();
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(2)) << cluster_.control().output();
    herald::v1::CreateNamespaceRequest create;
    auto* ns = create.mutable_namespace_();
    ns->set_name("feed");
    ns->set_history_size(20000);
    ns->set_history_ttl_seconds(600);
    grpc::ClientContext ctx;
    herald::v1::CreateNamespaceResponse created;
    ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, create, &created).ok());
    // Hundreds of clients connect from 127.0.0.1 at once here.
    herald::v1::SetLimitsRequest limits;
    limits.mutable_limits()->set_new_connections_per_ip_per_second(100000);
    grpc::ClientContext limits_ctx;
    herald::v1::SetLimitsResponse set;
    ASSERT_TRUE(cluster_.api().SetLimits(&limits_ctx, limits, &set).ok());
    ASSERT_TRUE(cluster_.waitAckedVersion(set.config_version()));
  }

  std::unique_ptr<WsClient> connect(size_t node, const std::string& query = "") {
    return connectGreeted(cluster_.wsUrl(node, query));
  }

  // Publishes `count` messages with data {"seq":offset-to-be} in batches; returns the epoch.
  std::string publishBatch(const std::string& channel, int count) {
    std::string epoch;
    for (int done = 0; done < count;) {
      herald::v1::PublishBatchRequest batch;
      for (int i = 0; i < 100 && done < count; ++i, ++done) {
        auto* p = batch.add_publications();
        p->set_channel(channel);
        p->set_data("{\"n\":" + std::to_string(done) + "}");
      }
      grpc::ClientContext ctx;
      herald::v1::PublishBatchResponse resp;
      EXPECT_TRUE(cluster_.api().PublishBatch(&ctx, batch, &resp).ok());
      epoch = resp.results(0).epoch();
    }
    return epoch;
  }

  Cluster cluster_;
};

// What a client saw on one channel: message offsets in arrival order, and the recovery frame.
struct Seen {
  std::vector<uint64_t> offsets;
  std::optional<json> recovery;
  size_t before_recovery = 0;  // messages that arrived before the recovery frame
};

// Reads frames until a message with offset >= `last` arrived (or 30 s passed).
Seen readUntil(WsClient& ws, uint64_t last) {
  Seen seen;
  while (seen.offsets.empty() || seen.offsets.back() < last) {
    auto frame = ws.next(30s);
    if (!frame) {
      break;
    }
    if ((*frame)["type"] == "recovery") {
      seen.recovery = *frame;
      seen.before_recovery = seen.offsets.size();
    } else if ((*frame)["type"] == "message") {
      seen.offsets.push_back((*frame)["offset"].get<uint64_t>());
    }
  }
  return seen;
}

TEST_F(RecoveryTest, MissedThousandComeFromTheOtherNodeInOrderThenLiveOnes) {
  auto first = connect(0, "subscribe=feed:x");
  ASSERT_TRUE(cluster_.waitInterest("feed:x", 1));
  auto one = cluster_.publish("feed:x", "{\"n\":0}");
  auto got = first->nextOfType("message", 10s);
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ((*got)["offset"], 1);
  first->close();

  publishBatch("feed:x", 1000);  // offsets 2..1001, missed while away

  auto second = connect(1);
  // Live publications race the recovery: none may be lost or repeated.
  constexpr int kLive = 200;
  std::atomic<bool> go{false};
  std::thread publisher([&] {
    while (!go.load()) {
      std::this_thread::yield();
    }
    for (int i = 0; i < kLive; ++i) {
      cluster_.publish("feed:x", "{\"live\":" + std::to_string(i) + "}");
    }
  });
  second->send(since("feed:x", 1, one.epoch()));
  go = true;
  Seen seen = readUntil(*second, 1001 + kLive);
  publisher.join();

  EXPECT_TRUE(contiguous(seen.offsets, 2, 1001 + kLive));
  ASSERT_TRUE(seen.recovery.has_value()) << "no recovery frame";
  const json& r = *seen.recovery;
  EXPECT_EQ(r["channel"], "feed:x");
  EXPECT_EQ(r["recovered"], true);
  EXPECT_EQ(r["epoch"], one.epoch());
  const uint64_t top = r["offset"];
  EXPECT_GE(r["missed"].get<uint64_t>(), 1000u);
  EXPECT_EQ(r["missed"].get<uint64_t>(), top - 1) << "missed counts what history delivered";
  // History first (up to the reported offset), then live ones.
  EXPECT_EQ(seen.before_recovery, top - 1);
}

TEST_F(RecoveryTest, AnotherEpochOrAnUncoveredGapGivesRecoveredFalseAndTheCurrentOffset) {
  publishBatch("feed:y", 5);
  auto ws = connect(1);
  ws->send(since("feed:y", 2, "0000000000000000"));
  ASSERT_TRUE(ws->nextOfType("reply", 10s));
  auto r = ws->next(10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["type"], "recovery") << "no history may be sent for another epoch: " << *r;
  EXPECT_EQ((*r)["recovered"], false);
  EXPECT_EQ((*r)["offset"], 5);
  EXPECT_EQ((*r)["missed"], 0);
  // Live ones continue after it.
  auto next = cluster_.publish("feed:y", "{}");
  auto live = ws->nextOfType("message", 10s);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ((*live)["offset"], next.offset());

  // A namespace without history cannot cover a gap either.
  cluster_.publish("nohist:a", "{}");
  auto second = cluster_.publish("nohist:a", "{}");
  ws->send(since("nohist:a", 0, second.epoch()));
  auto nr = ws->nextOfType("recovery", 10s);
  ASSERT_TRUE(nr.has_value());
  EXPECT_EQ((*nr)["recovered"], false);
  EXPECT_EQ((*nr)["offset"], 2);
}

TEST_F(RecoveryTest, KillNineNodeWith200ClientsTheyResumeOnTheOtherWithoutGapOrDuplicate) {
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect(0, "subscribe=feed:k"));
  }
  ASSERT_TRUE(cluster_.waitInterest("feed:k", 1));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last{0};
  std::string epoch;
  std::mutex epoch_mu;
  std::thread publisher([&] {
    // Bounded: at most 5000 publications, about one every 2 ms.
    for (int i = 0; i < 5000 && !stop.load(); ++i) {
      auto resp = cluster_.publish("feed:k", "{\"i\":" + std::to_string(i) + "}");
      {
        std::lock_guard<std::mutex> lock(epoch_mu);
        epoch = resp.epoch();
      }
      last = resp.offset();
      std::this_thread::sleep_for(2ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return last.load() >= 50; }, 20s));
  cluster_.node(0).signal(SIGKILL);

  // Each client keeps what it got before the kill (its position), then resumes on node 1.
  std::vector<std::vector<uint64_t>> offsets(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients[i]->waitClosed(10s);  // frames received before the close stay readable
    while (auto frame = clients[i]->next(0ms)) {
      if ((*frame)["type"] == "message") {
        offsets[i].push_back((*frame)["offset"].get<uint64_t>());
      }
    }
    ASSERT_FALSE(offsets[i].empty()) << "client " << i << " got nothing before the kill";
  }
  std::string current_epoch;
  {
    std::lock_guard<std::mutex> lock(epoch_mu);
    current_epoch = epoch;
  }
  std::vector<std::unique_ptr<WsClient>> resumed;
  for (int i = 0; i < kClients; ++i) {
    resumed.push_back(connect(1));
    resumed.back()->send(since("feed:k", offsets[i].back(), current_epoch));
  }
  const uint64_t after_reconnect = last.load();
  ASSERT_TRUE(eventually([&] { return last.load() >= after_reconnect + 100; }, 30s));
  stop = true;
  publisher.join();
  const uint64_t final_offset = last.load();

  for (int i = 0; i < kClients; ++i) {
    Seen seen = readUntil(*resumed[i], final_offset);
    std::vector<uint64_t> all = offsets[i];
    all.insert(all.end(), seen.offsets.begin(), seen.offsets.end());
    ASSERT_TRUE(contiguous(all, all.front(), final_offset)) << "client " << i;
    ASSERT_TRUE(seen.recovery.has_value()) << "client " << i;
    EXPECT_EQ((*seen.recovery)["recovered"], true) << "client " << i << ": " << *seen.recovery;
  }
}

TEST_F(RecoveryTest, NodeWhoseLinkBrokeFetchesWhatItsClientsMissed) {
  auto ws = connect(0, "token=" + token("alice") + "&subscribe=feed:f");
  ASSERT_TRUE(cluster_.waitInterest("feed:f", 1));
  cluster_.publish("feed:f", "{}");
  ASSERT_TRUE(ws->nextOfType("message", 10s).has_value());
  // The node resyncs streams it has delivered on (it knows their position): one personal
  // message before the freeze gives alice's stream a position.
  herald::v1::SendToUserRequest personal;
  personal.set_user("alice");
  personal.set_data(R"({"while":"running"})");
  herald::v1::SendToUserResponse sent;
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext c;
        return cluster_.api().SendToUser(&c, personal, &sent).ok() && sent.nodes() == 1;
      },
      10s));
  ASSERT_TRUE(ws->nextOfType("message", 10s).has_value());

  // A frozen node misses heartbeats: herald-control drops it from routing and cuts its link.
  cluster_.node(0).signal(SIGSTOP);
  ASSERT_TRUE(eventually([&] { return cluster_.publish("feed:f", "{}").nodes() == 0; }, 20s));
  publishBatch("feed:f", 49);  // 2..51 (the probes above included) never reach node 0
  grpc::ClientContext ctx;
  personal.set_data(R"({"while":"frozen"})");
  ASSERT_TRUE(cluster_.api().SendToUser(&ctx, personal, &sent).ok());
  EXPECT_EQ(sent.nodes(), 0u);
  const uint64_t before_resume = cluster_.publish("feed:f", "{}").offset();
  cluster_.node(0).signal(SIGCONT);
  ASSERT_TRUE(cluster_.waitHealthyNodes(2)) << cluster_.node(0).output();
  ASSERT_TRUE(cluster_.waitInterest("feed:f", 1));
  const uint64_t last = cluster_.publish("feed:f", "{}").offset();

  // The client did nothing: the node fetched the gap itself when its link came back.
  std::vector<uint64_t> offsets;
  bool got_personal = false;
  while (offsets.empty() || offsets.back() < last) {
    auto frame = ws->next(20s);
    ASSERT_TRUE(frame.has_value()) << "stopped after " << ::testing::PrintToString(offsets);
    if ((*frame)["type"] == "message" && frame->contains("channel")) {
      offsets.push_back((*frame)["offset"]);
    } else if ((*frame)["type"] == "message" && frame->contains("user")) {
      got_personal = (*frame)["data"]["while"] == "frozen";
    }
  }
  EXPECT_GT(last, before_resume);
  EXPECT_TRUE(contiguous(offsets, 2, last));
  if (!got_personal) {
    auto frame = ws->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value()) << "the personal message sent while frozen never came";
    EXPECT_EQ((*frame)["data"]["while"], "frozen");
  }
}

TEST_F(RecoveryTest, PersonalMessagesSentWhileAwayArriveOnReturn) {
  // Sent while alice has no connection anywhere: nothing to route to, but kept in history.
  grpc::ClientContext ctx;
  herald::v1::SendToUserRequest req;
  req.set_user("alice");
  req.set_event("notice");
  req.set_data(R"({"text":"while you were away"})");
  herald::v1::SendToUserResponse sent;
  ASSERT_TRUE(cluster_.api().SendToUser(&ctx, req, &sent).ok());
  EXPECT_EQ(sent.nodes(), 0u);
  EXPECT_EQ(sent.offset(), 1u);

  // No position yet: user_since=0 asks for everything retained.
  auto ws = connect(0, "token=" + token("alice") + "&user_since=0");
  auto msg = ws->nextOfType("message", 10s);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ((*msg)["user"], "alice");
  EXPECT_EQ((*msg)["data"]["text"], "while you were away");
  EXPECT_EQ((*msg)["offset"], 1);
  auto r = ws->nextOfType("recovery", 10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["user"], "alice");
  EXPECT_EQ((*r)["recovered"], true);
  EXPECT_EQ((*r)["missed"], 1);
  const std::string epoch = (*r)["epoch"];
  ws->close();

  // Away again: two more. The return uses the authenticate frame with its position.
  for (int i = 2; i <= 3; ++i) {
    grpc::ClientContext c;
    req.set_data("{\"n\":" + std::to_string(i) + "}");
    ASSERT_TRUE(cluster_.api().SendToUser(&c, req, &sent).ok());
  }
  auto back = connect(1);  // anonymous first (the test cluster allows it)
  back->send(json{{"type", "authenticate"},
                  {"token", token("alice")},
                  {"user_since", {{"offset", 1}, {"epoch", epoch}}}}
                 .dump());
  std::vector<uint64_t> offsets;
  std::optional<json> recovery;
  while (!recovery) {
    auto frame = back->next(10s);
    ASSERT_TRUE(frame.has_value());
    if ((*frame)["type"] == "message") {
      offsets.push_back((*frame)["offset"]);
    } else if ((*frame)["type"] == "recovery") {
      recovery = *frame;
    }
  }
  EXPECT_EQ(offsets, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ((*recovery)["recovered"], true);
  // And live personal messages follow.
  grpc::ClientContext live_ctx;
  req.set_data("{\"n\":4}");
  ASSERT_TRUE(cluster_.api().SendToUser(&live_ctx, req, &sent).ok());
  auto live = back->nextOfType("message", 10s);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ((*live)["offset"], 4);
}

TEST_F(RecoveryTest, PresenceListsSubscribersOnEveryNodeAndListChannelsCountsThem) {
  auto a = connect(0, "token=" + token("alice") + "&subscribe=feed:p");
  auto b = connect(1, "token=" + token("bob") + "&subscribe=feed:p");
  auto anon = connect(1, "subscribe=feed:p");
  ASSERT_TRUE(cluster_.waitInterest("feed:p", 2));
  herald::v1::PresenceResponse presence;
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext ctx;
        herald::v1::PresenceRequest req;
        req.set_channel("feed:p");
        presence.Clear();
        return cluster_.api().Presence(&ctx, req, &presence).ok() && presence.connections() == 3;
      },
      10s));
  EXPECT_EQ(presence.users(), 2u);
  EXPECT_EQ(presence.nodes_unanswered(), 0u);
  ASSERT_EQ(presence.entries_size(), 3);
  std::map<std::string, std::string> node_of;
  for (const auto& e : presence.entries()) {
    EXPECT_FALSE(e.client().empty());
    node_of[e.user()] = e.node_id();
  }
  EXPECT_NE(node_of["alice"], node_of["bob"]) << "alice and bob are on different nodes";
  EXPECT_TRUE(node_of.count("")) << "the anonymous connection is listed with an empty user";

  grpc::ClientContext ctx;
  herald::v1::ListChannelsRequest list;
  list.set_prefix("feed:p");
  herald::v1::ListChannelsResponse channels;
  ASSERT_TRUE(cluster_.api().ListChannels(&ctx, list, &channels).ok());
  ASSERT_EQ(channels.channels_size(), 1);
  EXPECT_EQ(channels.channels(0).subscribers(), 3u);
  EXPECT_EQ(channels.channels(0).nodes(), 2u);
}

}  // namespace
}  // namespace herald::testing
