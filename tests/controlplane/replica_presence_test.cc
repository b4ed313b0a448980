#include "controlplane/replica_presence.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "controlplane/peer_bus.h"

namespace herald::control {
namespace {

using namespace std::chrono_literals;

herald::v1::PresenceReply nodeReply(const std::string& user, uint64_t connections) {
  herald::v1::PresenceReply reply;
  reply.add_entries()->set_user(user);
  reply.set_connections(connections);
  return reply;
}

struct Replica {
  Replica(PeerBus& bus, const std::string& id, ReplicaPresence::LocalAsk local)
      : channel(bus, id), presence(channel, id, std::move(local)) {
    channel.listen(id, [this](const std::string& payload) { presence.onMessage(payload); });
  }
  PeerBus::Member channel;
  ReplicaPresence presence;
};

TEST(ReplicaPresenceTest, GathersEveryReplicasNodesAndCountsTheSilentOnes) {
  PeerBus bus;
  herald::v1::PresenceQuery seen;
  Replica b(bus, "b", [&](const herald::v1::PresenceQuery& query, uint32_t* asked) {
    seen = query;
    *asked = 3;  // one of its nodes did not answer
    return std::vector<herald::v1::PresenceReply>{nodeReply("bob", 1), nodeReply("carol", 2)};
  });
  Replica a(bus, "a", [](const herald::v1::PresenceQuery&, uint32_t* asked) {
    *asked = 0;
    return std::vector<herald::v1::PresenceReply>{};
  });
  herald::v1::PresenceQuery query;
  query.set_channel("room");
  query.set_max_entries(10);
  bool ran_meanwhile = false;
  // "c" is announced but not listening (it just died): counted as unanswered at once.
  const auto started = std::chrono::steady_clock::now();
  auto gathered = a.presence.ask(query, {"a", "b", "c"}, 2s, [&] { ran_meanwhile = true; });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms) << "waited for the dead one";
  EXPECT_TRUE(ran_meanwhile);
  EXPECT_EQ(seen.channel(), "room");
  EXPECT_EQ(seen.max_entries(), 10u);
  ASSERT_EQ(gathered.replies.size(), 2u);
  EXPECT_EQ(gathered.replies[0].entries(0).user(), "bob");
  EXPECT_EQ(gathered.replies[1].connections(), 2u);
  EXPECT_EQ(gathered.nodes_asked, 3u);
  EXPECT_EQ(gathered.replicas_asked, 2u);  // b and c; not a itself
  EXPECT_EQ(gathered.replicas_unanswered, 1u);
}

TEST(ReplicaPresenceTest, AReplicaTooSlowToAnswerIsCountedAndItsLateAnswerDropped) {
  PeerBus bus;
  std::atomic<bool> release{false};
  // `a` outlives `slow`, whose late answer still reaches it.
  Replica a(bus, "a", [](const herald::v1::PresenceQuery&, uint32_t* asked) {
    *asked = 0;
    return std::vector<herald::v1::PresenceReply>{};
  });
  Replica slow(bus, "slow", [&](const herald::v1::PresenceQuery&, uint32_t* asked) {
    for (int i = 0; i < 300 && !release.load(); ++i) {
      std::this_thread::sleep_for(10ms);
    }
    *asked = 1;
    return std::vector<herald::v1::PresenceReply>{nodeReply("late", 1)};
  });
  auto gathered = a.presence.ask(herald::v1::PresenceQuery(), {"slow"}, 200ms, nullptr);
  EXPECT_TRUE(gathered.replies.empty());
  EXPECT_EQ(gathered.replicas_unanswered, 1u);
  release = true;  // its answer now comes for a finished query: dropped, no crash
}

TEST(ReplicaPresenceTest, MalformedMessagesAreIgnored) {
  PeerBus bus;
  int asked_locally = 0;
  Replica a(bus, "a", [&](const herald::v1::PresenceQuery&, uint32_t* asked) {
    ++asked_locally;
    *asked = 0;
    return std::vector<herald::v1::PresenceReply>{};
  });
  for (const std::string payload :
       {std::string(), std::string("q"), std::string("q1"), std::string("qx\nb\n"),
        std::string("q1\n\n"), "q1\n" + std::string(300, 'b') + "\n", std::string("r1"),
        std::string("r1\n5\n99999\nabc"), std::string("r1\n5\n3\nab"), std::string("z1\n"),
        std::string("r99999999999999999999999\n1\n")}) {
    a.presence.onMessage(payload);
  }
  EXPECT_EQ(asked_locally, 0) << "a malformed query was answered";
}

}  // namespace
}  // namespace herald::control
