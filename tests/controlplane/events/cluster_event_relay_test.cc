// The cluster's one event stream on a real Redis (docs/hooks.md "Events with several
// replicas"): replicas' holds make one event per cluster transition; a replica taken for lost
// is released, and tells its state again when it is back; the delivering replica hands over
// without losing events.
#include "controlplane/events/cluster_event_relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "controlplane/redis/redis_event_log.h"
#include "integration/redis_cluster_fixture.h"

namespace herald::control {
namespace {

using namespace std::chrono_literals;
using herald::testing::eventually;
using herald::testing::RedisServer;

// The receiver every replica's dispatcher sends to; refuses while `down`.
struct Receiver {
  std::mutex mu;
  bool down = false;
  std::vector<herald::v1::Event> taken;
  // Once each by id, as a receiver that de-duplicates sees them (a batch may come twice when
  // the delivering replica could not record that it was taken).
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> out;
    std::set<std::string> ids;
    for (const auto& e : taken) {
      if (ids.insert(e.id()).second) {
        out.push_back(e.type() + " " + (e.user().empty() ? e.channel() : e.user()));
      }
    }
    return out;
  }
  size_t count(const std::string& what) {
    const auto all = seen();
    return static_cast<size_t>(std::count(all.begin(), all.end(), what));
  }
  bool waitFor(const std::string& what, size_t n = 1) {
    return eventually([&] { return count(what) >= n; }, 15s);
  }
};

class TestSender : public EventSender {
 public:
  explicit TestSender(Receiver& r) : r_(r) {}
  Status send(const herald::v1::EventBatch& batch) override {
    std::lock_guard<std::mutex> lock(r_.mu);
    if (r_.down) {
      return Status(ErrorCode::kUnavailable, "HTTP 503");
    }
    r_.taken.insert(r_.taken.end(), batch.events().begin(), batch.events().end());
    return Status::ok();
  }
  void cancel() override {}

 private:
  Receiver& r_;
};

// A log whose every call fails while `cut`: a replica cut off from Redis.
class CuttableLog : public ClusterEventLog {
 public:
  CuttableLog(std::unique_ptr<ClusterEventLog> inner, std::atomic<bool>& cut)
      : inner_(std::move(inner)), cut_(cut) {}
  Result<Appended> append(const std::string& m, uint64_t seq, bool known,
                          const std::vector<LogItem>& items, int64_t t, size_t limit) override {
    if (cut_) return down();
    return inner_->append(m, seq, known, items, t, limit);
  }
  Result<bool> heartbeat(const std::string& m, std::chrono::milliseconds ttl) override {
    if (cut_) return down();
    return inner_->heartbeat(m, ttl);
  }
  Result<std::vector<std::string>> lostMembers() override {
    if (cut_) return down();
    return inner_->lostMembers();
  }
  Result<int64_t> sweep(const std::string& m, const Sweep& how) override {
    if (cut_) return down();
    return inner_->sweep(m, how);
  }
  Result<bool> lead(const std::string& m, std::chrono::milliseconds ttl) override {
    if (cut_) return down();
    return inner_->lead(m, ttl);
  }
  void resign(const std::string& m) override { inner_->resign(m); }
  Result<std::string> position(const std::string& r) override {
    if (cut_) return down();
    return inner_->position(r);
  }
  Status commit(const std::string& m, const std::string& r, const std::string& id) override {
    if (cut_) return down();
    return inner_->commit(m, r, id);
  }
  Result<std::vector<LoggedEvent>> read(const std::string& after, size_t n) override {
    if (cut_) return down();
    return inner_->read(after, n);
  }
  Status trim(const std::string& upto) override {
    if (cut_) return down();
    return inner_->trim(upto);
  }

 private:
  static Status down() { return Status(ErrorCode::kUnavailable, "cut off"); }
  std::unique_ptr<ClusterEventLog> inner_;
  std::atomic<bool>& cut_;
};

// One replica: its dispatcher (to the shared receiver) and relay.
struct Replica {
  std::unique_ptr<EventPublisher> publisher;
  std::unique_ptr<ClusterEventRelay> relay;
  std::atomic<bool> cut{false};
  std::atomic<int> lost{0};  // times the relay found it was taken for lost
};

class ClusterEventRelayTest : public ::testing::Test {
 protected:
  // `alive`: how long a silent replica lives on (and the delivery lease): long enough that a
  // busy CI machine never makes a healthy one look lost, except where a test means it to.
  std::unique_ptr<Replica> start(const std::string& member, uint32_t queue_limit = 100000,
                                 std::chrono::milliseconds alive = 2000ms) {
    auto replica = std::make_unique<Replica>();
    herald::v1::HookSettings hooks;
    auto* endpoint = hooks.add_endpoints();
    endpoint->set_name("app");
    endpoint->set_url("http://127.0.0.1:9/hooks");
    EventSettings settings;
    settings.endpoints = {"app"};
    settings.queue_limit = queue_limit;
    EventDispatchOptions dispatch;
    dispatch.first_retry = 50ms;
    dispatch.max_retry = 200ms;
    auto publisher = EventPublisher::make(
        settings, hooks,
        [this](const herald::v1::HookEndpoint&) -> Result<std::unique_ptr<EventSender>> {
          return std::unique_ptr<EventSender>(new TestSender(receiver_));
        },
        dispatch);
    EXPECT_TRUE(publisher.isOk()) << publisher.status().message();
    replica->publisher = std::move(publisher.value());
    const auto address = parseRedisAddress(redis_.url()).value();
    ClusterEventRelay::Options options;
    options.member = member;
    options.queue_limit = queue_limit;
    options.heartbeat = 100ms;
    options.alive_ttl = alive;
    options.lease_ttl = alive;
    options.poll = 20ms;
    Replica* r = replica.get();
    replica->relay = std::make_unique<ClusterEventRelay>(
        [address, r] {
          return std::make_unique<CuttableLog>(std::make_unique<RedisEventLog>(address, 500ms),
                                               r->cut);
        },
        *replica->publisher, options);
    replica->relay->setLostListener([r] { ++r->lost; });
    replica->relay->start();
    return replica;
  }

  static PresenceTransition user(PresenceChange change, const std::string& name) {
    return makeTransition(change, name, "", "node-1", "");
  }

  RedisServer redis_{false};
  Receiver receiver_;
};

TEST_F(ClusterEventRelayTest, AUserHeldThroughTwoReplicasIsOnlineAndOfflineOnce) {
  auto a = start("a");
  auto b = start("b");
  a->relay->push({user(PresenceChange::kUserOnline, "alice")});
  ASSERT_TRUE(receiver_.waitFor("user.online alice"));
  b->relay->push({user(PresenceChange::kUserOnline, "alice")});
  b->relay->push({user(PresenceChange::kUserOffline, "alice")});
  b->relay->push({user(PresenceChange::kUserOnline, "bob")});
  ASSERT_TRUE(receiver_.waitFor("user.online bob"));
  EXPECT_EQ(receiver_.count("user.offline alice"), 0u) << "replica a still holds her";
  a->relay->push({user(PresenceChange::kUserOffline, "alice")});
  ASSERT_TRUE(receiver_.waitFor("user.offline alice"));
  EXPECT_EQ(receiver_.seen(), (std::vector<std::string>{"user.online alice", "user.online bob",
                                                        "user.offline alice"}));
  EXPECT_TRUE(a->relay->leading() != b->relay->leading()) << "one replica delivers";
}

TEST_F(ClusterEventRelayTest, AReplicaTakenForLostIsReleasedAndTellsItsStateAgainWhenBack) {
  auto a = start("a", 100000, 1000ms);
  auto b = start("b", 100000, 1000ms);
  a->relay->push({user(PresenceChange::kUserOnline, "carol")});
  ASSERT_TRUE(receiver_.waitFor("user.online carol"));
  a->cut = true;  // its heartbeats stop: b releases carol
  ASSERT_TRUE(eventually([&] { return b->relay->leading(); }, 15s));
  ASSERT_TRUE(receiver_.waitFor("user.offline carol"));
  {
    std::lock_guard<std::mutex> lock(receiver_.mu);
    for (const auto& e : receiver_.taken) {
      if (e.type() == "user.offline") {
        EXPECT_NE(e.reason().find("a stopped"), std::string::npos) << e.reason();
      }
    }
  }
  a->relay->push({user(PresenceChange::kUserOnline, "dan")});  // while cut off
  a->cut = false;
  ASSERT_TRUE(receiver_.waitFor("user.online carol", 2)) << "told again: she is online";
  EXPECT_TRUE(eventually([&] { return a->lost.load() >= 1; }, 15s))
      << "its nodes' connections are reported again too";
  ASSERT_TRUE(receiver_.waitFor("user.online dan"));
  a->relay->push({user(PresenceChange::kUserOffline, "carol")});
  ASSERT_TRUE(receiver_.waitFor("user.offline carol", 2));
  EXPECT_EQ(receiver_.count("user.online dan"), 1u);
}

TEST_F(ClusterEventRelayTest, TheDeliveringReplicaStoppingHandsOverWithoutLosingEvents) {
  auto a = start("a");
  ASSERT_TRUE(eventually([&] { return a->relay->leading(); }, 15s));
  auto b = start("b");
  {
    std::lock_guard<std::mutex> lock(receiver_.mu);
    receiver_.down = true;
  }
  for (int i = 0; i < 300; ++i) {
    (i % 2 == 0 ? a : b)->relay->push({user(PresenceChange::kUserOnline, "u" + std::to_string(i))});
  }
  a->relay->stop();  // flushes what it appended, gives up the lease
  a.reset();
  ASSERT_TRUE(eventually([&] { return b->relay->leading(); }, 15s));
  {
    std::lock_guard<std::mutex> lock(receiver_.mu);
    receiver_.down = false;
  }
  ASSERT_TRUE(eventually([&] { return receiver_.seen().size() >= 300; }, 15s));
  std::set<std::string> ids;
  std::set<std::string> users;
  {
    std::lock_guard<std::mutex> lock(receiver_.mu);
    for (const auto& e : receiver_.taken) {
      ids.insert(e.id());
      users.insert(e.user());
    }
  }
  EXPECT_EQ(ids.size(), 300u) << "each event, once by id";
  EXPECT_EQ(users.size(), 300u);
}

TEST_F(ClusterEventRelayTest, AQueueOverflowKeepsTheStateRightAndCountsLostEvents) {
  auto a = start("a", 1000);
  a->cut = true;
  // More changes than the queue's bound (1,000 here) while Redis is away.
  std::vector<PresenceTransition> burst;
  for (int i = 0; i < 1010; ++i) {
    burst.push_back(makeTransition(PresenceChange::kClientConnected, "x", "", "node-1", "",
                                   "c" + std::to_string(i)));
  }
  a->relay->push(
      {user(PresenceChange::kUserOnline, "erin"), user(PresenceChange::kUserOnline, "frank")});
  a->relay->push(burst);
  a->relay->push({user(PresenceChange::kUserOffline, "frank")});
  EXPECT_GE(a->relay->dropped(), 10u);
  a->cut = false;
  ASSERT_TRUE(receiver_.waitFor("user.online erin"));
  a->relay->push({user(PresenceChange::kUserOnline, "gina")});
  ASSERT_TRUE(receiver_.waitFor("user.online gina"));
  EXPECT_EQ(receiver_.count("user.online erin"), 1u);
  // Frank came and went while Redis was away: nothing, or online then offline.
  EXPECT_EQ(receiver_.count("user.online frank"), receiver_.count("user.offline frank"));
}

TEST_F(ClusterEventRelayTest, AnOutageOfRedisForEveryReplicaReleasesNobody) {
  auto a = start("a");
  auto b = start("b");
  a->relay->push({user(PresenceChange::kUserOnline, "hal")});
  b->relay->push({user(PresenceChange::kUserOnline, "ida")});
  ASSERT_TRUE(receiver_.waitFor("user.online hal"));
  ASSERT_TRUE(receiver_.waitFor("user.online ida"));
  a->cut = true;
  b->cut = true;
  // Past the 2 s after which a silent replica is taken for lost.
  std::this_thread::sleep_for(2500ms);
  // a comes back first; b a little later, within the 2 s a waits before it sweeps.
  a->cut = false;
  std::this_thread::sleep_for(500ms);
  b->cut = false;
  // A marker afterwards (past a's wait and a sweep round) proves the stream moved on.
  std::this_thread::sleep_for(3500ms);
  a->relay->push({user(PresenceChange::kUserOnline, "jay")});
  ASSERT_TRUE(receiver_.waitFor("user.online jay"));
  EXPECT_EQ(receiver_.count("user.offline hal"), 0u);
  EXPECT_EQ(receiver_.count("user.offline ida"), 0u);
  EXPECT_EQ(a->lost.load() + b->lost.load(), 0);
}

TEST_F(ClusterEventRelayTest, AReceiverFartherBehindThanTheBoundLosesTheOldestCounted) {
  auto a = start("a", 100);
  ASSERT_TRUE(eventually([&] { return a->relay->leading(); }, 15s));
  {
    std::lock_guard<std::mutex> lock(receiver_.mu);
    receiver_.down = true;
  }
  EventDispatcher& dispatcher = *a->publisher->dispatchers()[0];
  a->relay->push({user(PresenceChange::kUserOnline, "u0")});
  ASSERT_TRUE(eventually([&] { return dispatcher.queued() == 1; }, 15s));
  // In steps the replica's own queue (also 100) takes whole, so the stream keeps their order.
  for (int step = 0; step < 20; ++step) {
    std::vector<PresenceTransition> burst;
    for (int i = std::max(1, step * 50); i < (step + 1) * 50; ++i) {
      burst.push_back(user(PresenceChange::kUserOnline, "u" + std::to_string(i)));
    }
    a->relay->push(burst);
    ASSERT_TRUE(eventually([&] { return a->relay->queued() == 0; }, 15s));
  }
  EXPECT_EQ(a->relay->dropped(), 0u);
  {
    std::lock_guard<std::mutex> lock(receiver_.mu);
    receiver_.down = false;
  }
  ASSERT_TRUE(receiver_.waitFor("user.online u999")) << "the newest are kept";
  const size_t delivered = receiver_.seen().size();
  EXPECT_LT(delivered, 1000u);
  EXPECT_EQ(delivered + dispatcher.dropped(), 1000u) << "every event delivered or counted";
}

TEST_F(ClusterEventRelayTest, AConnectionReportedTwiceMakesItsEventsOnce) {
  auto a = start("a");
  const auto connected =
      makeTransition(PresenceChange::kClientConnected, "kim", "", "node-1", "", "node-1-0-1");
  const auto closed = makeTransition(PresenceChange::kClientDisconnected, "kim", "", "node-1",
                                     "bye", "node-1-0-1", 1000);
  // Told again after a reconcile, or closed by a sweep and then by its replica: once each.
  a->relay->push({connected, connected});
  a->relay->push({closed, closed});
  a->relay->push({user(PresenceChange::kUserOnline, "marker")});
  ASSERT_TRUE(receiver_.waitFor("user.online marker"));
  EXPECT_EQ(receiver_.count("client.connected kim"), 1u);
  EXPECT_EQ(receiver_.count("client.disconnected kim"), 1u);
}

}  // namespace
}  // namespace herald::control
