// What the backend is told about users and channels (docs/hooks.md "Events"): once per
// cluster-wide transition, across nodes, link flaps and node losses.
#include "controlplane/events/cluster_presence.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace herald::control {
namespace {

using namespace std::chrono_literals;
using Clock = ClusterPresence::Clock;

google::protobuf::RepeatedPtrField<herald::v1::UserCount> counts(
    std::initializer_list<std::pair<const char*, uint32_t>> users) {
  google::protobuf::RepeatedPtrField<herald::v1::UserCount> out;
  for (const auto& [user, n] : users) {
    auto* c = out.Add();
    c->set_user(user);
    c->set_connections(n);
  }
  return out;
}

// Polls `condition` for up to 10 s.
bool waitUntil(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class ClusterPresenceTest : public ::testing::Test {
 protected:
  ClusterPresence presence_{5000ms, [this](std::vector<PresenceTransition> t) {
                              for (auto& one : t) {
                                heard_.push_back(std::string(presenceChangeName(one.change)) + " " +
                                                 one.user + one.channel);
                              }
                            }};
  std::vector<std::string> take() { return std::exchange(heard_, {}); }
  std::vector<std::string> heard_;
};

TEST_F(ClusterPresenceTest, TheFirstAndLastNodeOfAUserOrChannelAreTheTransitions) {
  const uint64_t n1 = presence_.attached("n1", {"chat:1"}, counts({{"alice", 2}}));
  EXPECT_EQ(take(), (std::vector<std::string>{"user.online alice", "channel.occupied chat:1"}));
  const uint64_t n2 = presence_.attached("n2", {"chat:1"}, counts({{"alice", 1}, {"bob", 1}}));
  EXPECT_EQ(take(), (std::vector<std::string>{"user.online bob"})) << "alice was online already";

  herald::v1::InterestDelta gone;
  gone.add_channels_removed("chat:1");
  auto* none = gone.add_user_counts();
  none->set_user("alice");
  none->set_connections(0);
  presence_.changed("n1", n1, gone);
  EXPECT_TRUE(take().empty()) << "n2 still holds both";
  presence_.changed("n2", n1, gone);
  EXPECT_TRUE(take().empty()) << "a report under another link's generation is ignored";
  presence_.changed("n2", n2, gone);
  EXPECT_EQ(take(), (std::vector<std::string>{"channel.vacated chat:1", "user.offline alice"}));
  EXPECT_EQ(presence_.users(), 1u);
}

TEST_F(ClusterPresenceTest, ALinkFlapChangesOnlyWhatReallyChanged) {
  const auto now = Clock::now();
  const uint64_t first = presence_.attached("n1", {"a", "b"}, counts({{"alice", 1}, {"bob", 1}}));
  take();
  presence_.detached("n1", first, /*timed_out=*/false, now);
  presence_.sweep(now + 4s);
  EXPECT_TRUE(take().empty()) << "within the grace period nothing is reported";
  // Back with its link: bob left meanwhile, channel c appeared.
  presence_.attached("n1", {"a", "c"}, counts({{"alice", 1}}));
  EXPECT_EQ(take(), (std::vector<std::string>{"channel.occupied c", "channel.vacated b",
                                              "user.offline bob"}));
  presence_.sweep(now + 60s);
  EXPECT_TRUE(take().empty()) << "the node is attached again: nothing expires";
  presence_.detached("n1", first, false, now + 61s);
  presence_.sweep(now + 120s);
  EXPECT_TRUE(take().empty()) << "the old link's end does not detach the new one";
}

TEST_F(ClusterPresenceTest, ANodeThatDoesNotComeBackLosesEverythingOnce) {
  const auto now = Clock::now();
  const uint64_t gen = presence_.attached("n1", {"a"}, counts({{"alice", 3}}));
  presence_.attached("n2", {"a"}, counts({}));
  take();
  presence_.detached("n1", gen, false, now);
  presence_.sweep(now + 5s);
  EXPECT_EQ(take(), (std::vector<std::string>{"user.offline alice"})) << "n2 still holds a";
  presence_.sweep(now + 10s);
  EXPECT_TRUE(take().empty()) << "once";
  // A node cut for silence is gone at once.
  const uint64_t n2 = presence_.attached("n2", {"a"}, counts({{"bob", 1}}));
  take();
  presence_.detached("n2", n2, /*timed_out=*/true, now + 11s);
  EXPECT_EQ(take(), (std::vector<std::string>{"channel.vacated a", "user.offline bob"}));
  EXPECT_EQ(presence_.channels(), 0u);
  EXPECT_EQ(presence_.users(), 0u);
}

TEST_F(ClusterPresenceTest, AnonymousCountsAndRepeatsAreNotTransitions) {
  const uint64_t gen = presence_.attached("n1", {}, counts({{"", 5}}));
  EXPECT_TRUE(take().empty());
  herald::v1::InterestDelta delta;
  delta.add_channels_added("x");
  delta.add_channels_added("x");
  auto* c = delta.add_user_counts();
  c->set_user("alice");
  c->set_connections(1);
  presence_.changed("n1", gen, delta);
  c->set_connections(2);
  presence_.changed("n1", gen, delta);
  EXPECT_EQ(take(), (std::vector<std::string>{"user.online alice", "channel.occupied x"}));
}

// What another replica reported of a node, as NodeHandover gives it.
class FakeHandover : public NodeHandover {
 public:
  std::optional<Previous> previous;
  std::vector<std::string> asked;
  std::optional<Previous> takeOver(const std::string& node, const std::string& instance,
                                   bool /*always*/) override {
    asked.push_back(node + "/" + instance);
    return std::exchange(previous, std::nullopt);
  }
};

herald::v1::ClientState clientState(const std::string& client, const std::string& user,
                                    std::vector<std::string> channels = {}) {
  herald::v1::ClientState state;
  state.set_client(client);
  state.set_user(user);
  for (const auto& channel : channels) {
    state.add_channels(channel);
  }
  return state;
}

TEST_F(ClusterPresenceTest, ANodeHandedOverFromAnotherReplicaReportsOnlyWhatChanged) {
  FakeHandover handover;
  presence_.setHandover(&handover);
  handover.previous = NodeHandover::Previous{
      "i1", {clientState("c1", "alice", {"chat:1"}), clientState("c2", "bob")}};
  const uint64_t n1 = presence_.attached("n1", {}, counts({}), "i1", true);
  EXPECT_EQ(handover.asked, (std::vector<std::string>{"n1/i1"}));
  herald::v1::InterestDelta full;
  full.set_clients_full(true);
  full.set_clients_end(true);
  *full.add_clients() = clientState("c1", "alice", {"chat:1"});
  *full.add_clients() = clientState("c3", "carol");
  presence_.changed("n1", n1, full);
  EXPECT_EQ(take(), (std::vector<std::string>{"client.disconnected bob", "client.connected carol"}))
      << "alice's connection went on: nothing; bob's closed while the node moved";

  // The node restarted before it joined this replica: everything it had ended.
  handover.previous = NodeHandover::Previous{"i1", {clientState("c9", "dan")}};
  presence_.attached("n2", {}, counts({}), "i2", true);
  EXPECT_EQ(take(), (std::vector<std::string>{"client.disconnected dan"}));
  // A node that does not report its connections is taken over, but nothing is adopted.
  handover.previous = NodeHandover::Previous{"i3", {clientState("c8", "erin")}};
  presence_.attached("n3", {}, counts({}), "i3", false);
  EXPECT_EQ(handover.asked.size(), 3u);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(presence_.clients(), 2u) << "alice's and carol's on n1; none adopted on n3";
}

// A Redis call that waits until released: a slow takeover of one Hello.
class SlowHandover : public NodeHandover {
 public:
  std::optional<Previous> takeOver(const std::string&, const std::string&, bool) override {
    std::unique_lock<std::mutex> lock(mu);
    if (calls++ == 0) {
      cv.wait(lock, [&] { return released; });
    }
    return std::nullopt;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  bool released = false;
};

TEST_F(ClusterPresenceTest, AnOlderHelloWhoseTakeoverEndsLastDoesNotTakeTheNodeBack) {
  SlowHandover handover;
  presence_.setHandover(&handover);
  uint64_t old_link = 0;
  std::thread slow([&] { old_link = presence_.attached("n1", {}, counts({}), "i1", true); });
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard<std::mutex> lock(handover.mu);
    return handover.calls == 1;
  }));
  // The node gave up on that link and came back on a new one, which finishes first.
  const uint64_t new_link =
      presence_.attached("n1", {"chat:1"}, counts({{"alice", 1}}), "i1", true);
  EXPECT_EQ(take(), (std::vector<std::string>{"user.online alice", "channel.occupied chat:1"}));
  handover.release();
  slow.join();
  EXPECT_TRUE(take().empty()) << "the old Hello changes nothing";
  herald::v1::InterestDelta gone;
  auto* none = gone.add_user_counts();
  none->set_user("alice");
  none->set_connections(0);
  presence_.changed("n1", old_link, gone);
  EXPECT_TRUE(take().empty()) << "the old link's reports are void";
  presence_.changed("n1", new_link, gone);
  EXPECT_EQ(take(), (std::vector<std::string>{"user.offline alice"}));
}

}  // namespace
}  // namespace herald::control
