// Join and leave frames (docs/protocol.md "join and leave"): subscribers of a channel in a
// namespace with join_leave hear connections subscribe and leave, across nodes, within about
// 100 ms; under churn the lists are capped and what they add up to matches Presence.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "herald/v1/node_link.grpc.pb.h"
#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

std::string token(const std::string& user) {
  return signToken("HS256", kTestJwtSecret, {{"sub", user}, {"exp", nowSeconds() + 3600}}, "test");
}

// What one client learnt from its join / leave frames about one channel.
struct Members {
  std::set<std::string> present;  // client ids listed as joined and not since as left
  std::map<std::string, std::string> users;
  std::map<std::string, std::string> node_of;  // client id -> the node that reported it
  std::map<std::string, int64_t> per_node;     // joined minus left, listed or not, per node
  int64_t count = 0;                           // the sum of per_node
  size_t frames = 0;
  size_t lost_nodes = 0;  // leaves with "all": a node that went
  size_t largest_list = 0;
  std::vector<json> other;  // join / leave frames of other channels

  void apply(const json& f, const std::string& channel) {
    if (f.value("type", "") != "join" && f.value("type", "") != "leave") {
      return;
    }
    if (f.value("channel", "") != channel) {
      other.push_back(f);
      return;
    }
    ++frames;
    const bool join = f["type"] == "join";
    const std::string node = f.value("node", "");
    if (f.value("all", false)) {
      ++lost_nodes;
      for (auto it = present.begin(); it != present.end();) {
        it = node_of[*it] == node ? present.erase(it) : std::next(it);
      }
      count -= per_node[node];
      per_node[node] = 0;
      return;
    }
    largest_list = std::max(largest_list, f["clients"].size());
    for (const auto& c : f["clients"]) {
      if (join) {
        present.insert(c["client"].get<std::string>());
        users[c["client"]] = c["user"];
        node_of[c["client"]] = node;
      } else {
        present.erase(c["client"].get<std::string>());
      }
    }
    const int64_t n = static_cast<int64_t>(f["clients"].size()) + f.value("unlisted", 0);
    count += join ? n : -n;
    per_node[node] += join ? n : -n;
  }
};

// Reads `ws` into `m` until `done` holds or the deadline passes.
bool readUntil(WsClient& ws, Members& m, const std::string& channel,
               const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    if (auto f = ws.next(100ms)) {
      m.apply(*f, channel);
    }
  }
  return true;
}

class JoinLeaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json c = defaultControlConfig();
    c["namespaces"] = {{{"name", "chat"}, {"join_leave", true}}, {{"name", "quiet"}}};
    c["limits"] = {{"new_connections_per_ip_per_second", 100000}};
    cluster_ = std::make_unique<Cluster>(c);
    cluster_->startControl();
    cluster_->startNode();
    cluster_->startNode();
    ASSERT_TRUE(cluster_->waitHealthyNodes(2));
  }
  std::pair<std::unique_ptr<WsClient>, std::string> connect(size_t node, const std::string& q) {
    auto ws = std::make_unique<WsClient>(cluster_->wsUrl(node, q));
    EXPECT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    auto connected = ws->nextOfType("connected", 10s);
    EXPECT_TRUE(connected.has_value());
    return {std::move(ws), connected ? (*connected)["client"].get<std::string>() : ""};
  }
  uint64_t presenceConnections(const std::string& channel) {
    herald::v1::PresenceRequest req;
    req.set_channel(channel);
    herald::v1::PresenceResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(cluster_->api().Presence(&ctx, req, &resp).ok());
    return resp.connections();
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(JoinLeaveTest, SubscribersHearOthersJoinAndLeaveAcrossNodes) {
  auto [alice, alice_id] = connect(0, "token=" + token("alice") + "&subscribe=chat:room,quiet:r");
  Members seen;
  // Her own join comes back to her too.
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.present.count(alice_id); }));
  ASSERT_TRUE(cluster_->waitInterest("chat:room", 1));

  // Bob on the other node: his subscription in `quiet` (no join_leave) is not announced.
  auto [bob, bob_id] = connect(1, "token=" + token("bob") + "&subscribe=quiet:r");
  bob->send(R"({"id":1,"type":"subscribe","channels":["chat:room"]})");
  ASSERT_EQ(bob->nextAnswer(10s)["type"], "reply");
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.present.count(bob_id); }));
  EXPECT_EQ(seen.users[bob_id], "bob");
  EXPECT_EQ(seen.count, 2);
  EXPECT_EQ(presenceConnections("chat:room"), 2u);

  // An unsubscribe is a leave; so is a close while subscribed.
  bob->send(R"({"id":2,"type":"unsubscribe","channels":["chat:room"]})");
  ASSERT_EQ(bob->nextAnswer(10s)["type"], "reply");
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return !seen.present.count(bob_id); }));
  EXPECT_EQ(seen.count, 1);

  auto [carol, carol_id] = connect(1, "subscribe=chat:room");  // anonymous
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.present.count(carol_id); }));
  EXPECT_EQ(seen.users[carol_id], "");
  // Carol hears her own join and nothing of Alice's earlier one.
  Members carol_seen;
  ASSERT_TRUE(readUntil(*carol, carol_seen, "chat:room",
                        [&] { return carol_seen.present.count(carol_id); }));
  EXPECT_EQ(carol_seen.present, std::set<std::string>{carol_id});
  carol->close();
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return !seen.present.count(carol_id); }));
  EXPECT_EQ(seen.present, std::set<std::string>{alice_id});
  EXPECT_EQ(seen.count, 1);
  EXPECT_TRUE(seen.other.empty()) << "frames of quiet:r: " << json(seen.other).dump();
}

TEST_F(JoinLeaveTest, ChurnIsListedInCappedFramesThatAddUpToPresence) {
  auto [alice, alice_id] = connect(0, "subscribe=chat:busy");
  Members seen;
  ASSERT_TRUE(readUntil(*alice, seen, "chat:busy", [&] { return seen.count == 1; }));

  // 300 connections subscribe on both nodes at once, then every third leaves again.
  constexpr int kClients = 300;
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<WsClient>(cluster_->wsUrl(i % 2, "subscribe=chat:busy")));
  }
  for (auto& ws : clients) {
    ASSERT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    ASSERT_TRUE(ws->nextOfType("connected", 10s).has_value());
  }
  int remaining = kClients;
  for (int i = 0; i < kClients; i += 3) {
    clients[i]->close();
    --remaining;
  }
  ASSERT_TRUE(eventually([&] { return presenceConnections("chat:busy") == 1u + remaining; }, 15s));
  // A marker per node, joined after the churn: each node's reports reach Alice in order, so
  // once both markers are listed, everything before them has been counted.
  auto [m0, m0_id] = connect(0, "subscribe=chat:busy");
  auto [m1, m1_id] = connect(1, "subscribe=chat:busy");
  ASSERT_TRUE(readUntil(*alice, seen, "chat:busy", [&, &m0_id = m0_id, &m1_id = m1_id] {
    return seen.present.count(m0_id) && seen.present.count(m1_id);
  }));
  const int64_t expected = 1 + remaining + 2;
  EXPECT_EQ(seen.count, expected) << "joins minus leaves, against Presence";
  EXPECT_EQ(presenceConnections("chat:busy"), static_cast<uint64_t>(expected));
  EXPECT_LE(seen.largest_list, 100u) << "lists are capped per node and window";
  // Coalesced: far fewer frames than the 400 joins and leaves (two per node per window at most).
  EXPECT_LT(seen.frames, 400u);
}

// What a node reports is checked: names, the namespace's setting and the caps hold whatever a
// node (here a fake one holding the node secret) sends.
TEST_F(JoinLeaveTest, ANodesReportIsCheckedNotTrusted) {
  auto [alice, alice_id] = connect(0, "subscribe=chat:room,quiet:r");
  Members seen;
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.count == 1; }));
  ASSERT_TRUE(cluster_->waitInterest("chat:room", 1));

  auto stub = herald::v1::NodeLink::NewStub(
      grpc::CreateChannel(cluster_->controlAddress(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  ctx.AddMetadata("x-herald-node-secret", kTestNodeSecret);
  auto stream = stub->Session(&ctx);
  herald::v1::NodeMessage hello;
  hello.mutable_hello()->set_node_id("fake");
  hello.mutable_hello()->set_secret(kTestNodeSecret);
  hello.mutable_hello()->set_listen_address("127.0.0.1:1");
  ASSERT_TRUE(stream->Write(hello));
  herald::v1::ControlMessage config;
  ASSERT_TRUE(stream->Read(&config));
  ASSERT_TRUE(config.has_config());

  herald::v1::NodeMessage report;
  auto* r = report.mutable_join_leave();
  auto* bad = r->add_channels();
  bad->set_channel("no spaces allowed");
  bad->add_joined()->set_client("x");
  auto* quiet = r->add_channels();  // a namespace without join_leave
  quiet->set_channel("quiet:r");
  quiet->add_joined()->set_client("x");
  auto* room = r->add_channels();
  room->set_channel("chat:room");
  room->add_joined()->set_client(std::string(1000, 'c'));  // too long to list
  for (int i = 0; i < 500; ++i) {
    auto* e = room->add_joined();
    e->set_client("fake-0-" + std::to_string(i));
    e->set_node_id("someone-else");
  }
  room->set_joined_unlisted(4000000000u);
  ASSERT_TRUE(stream->Write(report));

  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.present.count("fake-0-0"); }));
  EXPECT_LE(seen.largest_list, 100u);
  EXPECT_EQ(seen.present.count(std::string(1000, 'c')), 0u);
  EXPECT_GT(seen.count, 500) << "what was not listed is still counted";
  EXPECT_TRUE(seen.other.empty()) << json(seen.other).dump();
  // Exactly what passed the checks was relayed: Alice's own join, then the fake node's 100
  // listed and its unlisted rest, saturated at 2^30; nothing of the bad name or of quiet:r.
  const double relayed = 1 + 100 + (1u << 30);
  EXPECT_TRUE(eventually(
      [&] {
        auto samples = parseSamples(httpGet(cluster_->controlHttpAddress(), "/metrics").body);
        return samples["herald_control_join_leave_total{result=\"relayed\"}"] == relayed;
      },
      10s));
  // A node speaks only for its own connections: ids of another node's are not listed.
  herald::v1::NodeMessage spoof;
  auto* other = spoof.mutable_join_leave()->add_channels();
  other->set_channel("chat:room");
  other->add_left()->set_client(alice_id);
  other->add_joined()->set_client("fake-1-1");
  ASSERT_TRUE(stream->Write(spoof));
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.present.count("fake-1-1"); }));
  EXPECT_TRUE(seen.present.count(alice_id)) << "a fake node made Alice leave";
  ctx.TryCancel();
  ASSERT_TRUE(cluster_->control().running()) << cluster_->control().output();
}

// A node killed with its connections cannot say they left: herald-control does, once the node
// has been away for node_timeout_ms, with a leave of "all" of that node's connections.
TEST_F(JoinLeaveTest, TheConnectionsOfAKilledNodeLeaveWithIt) {
  auto [alice, alice_id] = connect(0, "subscribe=chat:room");
  Members seen;
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.count == 1; }));
  auto bob = std::make_unique<WsClient>(cluster_->wsUrl(1, "subscribe=chat:room"));
  ASSERT_TRUE(bob->waitOpen(10s));
  auto hello = bob->nextOfType("connected", 10s);
  ASSERT_TRUE(hello.has_value());
  const std::string bob_id = (*hello)["client"];
  const std::string bob_node = (*hello)["node"];
  auto carol = std::make_unique<WsClient>(cluster_->wsUrl(1, "subscribe=chat:room"));
  ASSERT_TRUE(carol->waitOpen(10s));
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.count == 3; }));
  EXPECT_EQ(seen.node_of[bob_id], bob_node);

  cluster_->node(1).stop(SIGKILL, 10s);
  ASSERT_TRUE(readUntil(
      *alice, seen, "chat:room", [&] { return seen.lost_nodes == 1; }, 30s))
      << "no leave for the killed node's connections";
  EXPECT_EQ(seen.present, std::set<std::string>{alice_id});
  EXPECT_EQ(seen.count, 1);
  EXPECT_EQ(presenceConnections("chat:room"), 1u);
}

// A node restarted under the same id (a new process) before herald-control gave up on it: the
// old process's connections leave at its Hello, before anything of the new one is announced, so
// the new members are not dropped by a late "all".
TEST_F(JoinLeaveTest, ANodeRestartedUnderItsIdLeavesTheOldConnectionsBeforeTheNewJoin) {
  // A node_timeout_ms longer than the test waits: only the new process's Hello can make the
  // old one's connections leave.
  cluster_->stopControl();
  cluster_->startControl({"--node-timeout-ms", "60000"});
  ASSERT_TRUE(cluster_->waitHealthyNodes(2));
  auto [alice, alice_id] = connect(0, "subscribe=chat:room");
  Members seen;
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.count == 1; }));
  // Serving once it has its config.
  auto serving = [&](size_t node) {
    return eventually([&] { return httpGet(cluster_->nodeAddress(node), "/health").status == 200; },
                      20s);
  };
  const size_t old_node = cluster_->startNode({"--node-id", "edge"});
  ASSERT_TRUE(serving(old_node));
  auto bob = std::make_unique<WsClient>(cluster_->wsUrl(old_node, "subscribe=chat:room"));
  ASSERT_TRUE(bob->waitOpen(10s));
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.count == 2; }));

  cluster_->node(old_node).stop(SIGKILL, 10s);
  const size_t new_node = cluster_->startNode({"--node-id", "edge"});
  ASSERT_TRUE(serving(new_node));
  auto carol = std::make_unique<WsClient>(cluster_->wsUrl(new_node, "subscribe=chat:room"));
  ASSERT_TRUE(carol->waitOpen(10s));
  auto hello = carol->nextOfType("connected", 10s);
  ASSERT_TRUE(hello.has_value());
  // Client ids repeat across a node's restarts: Carol's may well be Bob's. So the old leave
  // must come first, or it would drop her.
  const std::string carol_id = (*hello)["client"];
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] { return seen.lost_nodes == 1; }));
  ASSERT_TRUE(readUntil(*alice, seen, "chat:room", [&] {
    return seen.present.count(carol_id) > 0 && seen.count == 2;
  })) << "Carol's join, after the old process's leave";
  EXPECT_EQ(seen.lost_nodes, 1u);
  EXPECT_EQ(seen.present, (std::set<std::string>{alice_id, carol_id}));
  // That herald-control then forgets the old process (no second "all" at node_timeout_ms) is
  // LostNodeLeavesTest's to show, with its own clock.
}

}  // namespace
}  // namespace herald::testing
