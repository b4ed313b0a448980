#include "controlplane/replica_user_counts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <thread>

#include "controlplane/peer_bus.h"

namespace herald::control {
namespace {

using namespace std::chrono_literals;

// One replica: its own users (set by the test) and what it learnt of the others'.
class Replica {
 public:
  Replica(PeerBus& bus, const std::string& id, std::function<std::vector<std::string>()> live)
      : bus_(bus),
        id_(id),
        channel_(bus, id),
        counts_(
            channel_, id,
            [this](const std::string& replica, const ReplicaUserCounts::Counts& counts, bool full) {
              std::lock_guard<std::mutex> lock(mu_);
              auto& known = others_[replica];
              if (full) {
                known.clear();
              }
              for (const auto& [user, n] : counts) {
                if (n == 0) {
                  known.erase(user);
                } else {
                  known[user] = n;
                }
              }
              cv_.notify_all();
            },
            [this](const std::string& replica) {
              std::lock_guard<std::mutex> lock(mu_);
              others_.erase(replica);
              cv_.notify_all();
            },
            [this] {
              std::lock_guard<std::mutex> lock(mu_);
              return std::vector<std::pair<std::string, uint64_t>>(own_.begin(), own_.end());
            },
            [live]() -> std::optional<std::vector<std::string>> { return live(); }) {
    channel_.listen(id, [this](const std::string& payload) { counts_.onMessage(payload); });
  }
  ~Replica() {
    bus_.leave(id_);  // first: nothing reaches it while it goes
    counts_.stop();
  }

  void start() { counts_.start(); }
  void set(const std::string& user, uint64_t n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (n == 0) {
        own_.erase(user);
      } else {
        own_[user] = n;
      }
    }
    counts_.localChanged(user, n);
  }
  // Waits (with a deadline) until what this replica knows of `replica` equals `want`.
  bool knows(const std::string& replica, const std::map<std::string, uint32_t>& want) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] {
      auto it = others_.find(replica);
      return want.empty() ? (it == others_.end() || it->second.empty())
                          : (it != others_.end() && it->second == want);
    });
  }

 private:
  PeerBus& bus_;
  const std::string id_;
  PeerBus::Member channel_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, uint64_t> own_;
  std::map<std::string, std::map<std::string, uint32_t>> others_;
  ReplicaUserCounts counts_;
};

TEST(ReplicaUserCountsTest, EachReplicaLearnsTheOthersCountsAndTheirChanges) {
  PeerBus bus;
  auto both = [] { return std::vector<std::string>{"a", "b"}; };
  Replica a(bus, "a", both);
  a.set("alice", 2);  // before b exists: b gets it in the full list it asks for
  a.start();
  Replica b(bus, "b", both);
  b.start();
  EXPECT_TRUE(b.knows("a", {{"alice", 2}}));
  a.set("bob", 1);
  a.set("alice", 1);
  EXPECT_TRUE(b.knows("a", {{"alice", 1}, {"bob", 1}}));
  b.set("alice", 3);
  EXPECT_TRUE(a.knows("b", {{"alice", 3}}));
  a.set("bob", 0);
  EXPECT_TRUE(b.knows("a", {{"alice", 1}}));
}

TEST(ReplicaUserCountsTest, ALostDeltaIsMendedByAFullList) {
  PeerBus bus;
  auto both = [] { return std::vector<std::string>{"a", "b"}; };
  Replica a(bus, "a", both);
  Replica b(bus, "b", both);
  a.start();
  b.start();
  a.set("alice", 1);
  ASSERT_TRUE(b.knows("a", {{"alice", 1}}));
  // The next delta from a is lost on its way (Redis dropped it).
  std::atomic<int> dropped{0};
  bus.setDrop([&](const std::string& to, const std::string& payload) {
    return to == "*" && payload.compare(0, 2, "ua") == 0 && dropped.fetch_add(1) == 0;
  });
  a.set("carol", 4);
  // Wait until that delta went (and was lost), then change something else: b sees the gap.
  for (int i = 0; i < 500 && dropped.load() == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(dropped.load(), 1);
  a.set("dave", 1);
  EXPECT_TRUE(b.knows("a", {{"alice", 1}, {"carol", 4}, {"dave", 1}}))
      << "the lost delta's change must come back through a full list";
}

// The lost delta was a replica's last for a while: its heartbeat (every second, with its
// sequence) shows the gap, so the stale count does not stay.
TEST(ReplicaUserCountsTest, ALostLastDeltaIsMendedByTheNextHeartbeat) {
  PeerBus bus;
  auto both = [] { return std::vector<std::string>{"a", "b"}; };
  Replica a(bus, "a", both);
  Replica b(bus, "b", both);
  a.start();
  b.start();
  a.set("alice", 1);
  ASSERT_TRUE(b.knows("a", {{"alice", 1}}));
  std::atomic<int> dropped{0};
  bus.setDrop([&](const std::string& to, const std::string& payload) {
    return to == "*" && payload.find("\n0 alice\n") != std::string::npos &&
           dropped.fetch_add(1) == 0;
  });
  a.set("alice", 0);  // lost, and a says nothing more
  EXPECT_TRUE(b.knows("a", {})) << "alice stayed counted on a";
  EXPECT_EQ(dropped.load(), 1);
}

// A full list of more users than one message carries comes in parts, whole.
TEST(ReplicaUserCountsTest, ALargeFullListArrivesInPartsWhole) {
  PeerBus bus;
  auto both = [] { return std::vector<std::string>{"a", "b"}; };
  Replica a(bus, "a", both);
  std::map<std::string, uint32_t> many;
  for (size_t i = 0; i < ReplicaUserCounts::kUsersPerPart + 1234; ++i) {
    const std::string user = "user" + std::to_string(i);
    many[user] = 1;
    a.set(user, 1);
  }
  a.start();
  Replica b(bus, "b", both);
  b.start();
  EXPECT_TRUE(b.knows("a", many));
}

TEST(ReplicaUserCountsTest, AReplicaNoLongerAnnouncedIsForgottenAndARestartStartsOver) {
  PeerBus bus;
  std::mutex live_mu;
  std::vector<std::string> live = {"a", "b"};
  auto announced = [&] {
    std::lock_guard<std::mutex> lock(live_mu);
    return live;
  };
  Replica b(bus, "b", announced);
  b.start();
  {
    Replica a(bus, "a", announced);
    a.start();
    a.set("alice", 2);
    ASSERT_TRUE(b.knows("a", {{"alice", 2}}));
  }
  // a restarts (a new instance) with other users: what the old one had is gone.
  {
    Replica a(bus, "a", announced);
    a.set("bob", 1);
    a.start();
    a.set("bob", 1);
    EXPECT_TRUE(b.knows("a", {{"bob", 1}})) << "alice outlived a's restart";
  }
  {
    std::lock_guard<std::mutex> lock(live_mu);
    live = {"b"};  // a's announcement expired
  }
  EXPECT_TRUE(b.knows("a", {})) << "a's counts outlived it";
}

TEST(ReplicaUserCountsTest, MalformedMessagesAreIgnored) {
  PeerBus bus;
  Replica a(bus, "a", [] { return std::vector<std::string>{"a"}; });
  ReplicaUserCounts::Counts none;
  PeerBus::Member raw(bus, "x");
  for (const std::string payload :
       {std::string("u"), std::string("ub\n"), std::string("ub\ni\nx\n"),
        std::string("ub\ni\n1\nnotanumber alice\n"), std::string("ub\ni\n1\n5alice\n"),
        std::string("fb\ni\n1\n1 alice"), std::string("s"), std::string("s\n"),
        "s" + std::string(300, 'z') + "\n"}) {
    (void)raw.send("a", payload);
  }
  EXPECT_TRUE(a.knows("b", {}));
}

}  // namespace
}  // namespace herald::control
