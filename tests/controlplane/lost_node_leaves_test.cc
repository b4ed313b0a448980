#include "controlplane/lost_node_leaves.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/controlplane/mocks.h"

namespace herald::control {
namespace {

using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;

class LostNodeLeavesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<herald::v1::ConfigSnapshot>();
    auto* chat = config->add_namespaces();
    chat->set_name("chat");
    chat->set_join_leave(true);
    config->add_namespaces()->set_name("quiet");
    ON_CALL(store_, snapshot()).WillByDefault(Return(config));
    ON_CALL(engine_, relayJoinLeave(_))
        .WillByDefault(Invoke([this](const std::vector<herald::v1::JoinLeave>& changes) {
          relayed_.insert(relayed_.end(), changes.begin(), changes.end());
          return Status::ok();
        }));
  }
  std::vector<std::string> relayedChannels() const {
    std::vector<std::string> out;
    for (const auto& c : relayed_) {
      EXPECT_TRUE(c.node_lost());
      EXPECT_EQ(c.joined_size() + c.left_size(), 0);
      out.push_back(c.node_id() + " " + c.channel());
    }
    return out;
  }

  NiceMock<MockStreamEngine> engine_;
  NiceMock<MockConfigStore> store_;
  std::vector<herald::v1::JoinLeave> relayed_;
  const LostNodeLeaves::Clock::time_point t0_{};
  const std::chrono::milliseconds timeout_{5000};
};

TEST_F(LostNodeLeavesTest, ANodeAwayForTheTimeoutLeavesItsJoinLeaveChannels) {
  LostNodeLeaves lost(engine_, store_, timeout_);
  lost.attached("n1", "i1", 1);
  lost.departed("n1", 1, {"chat:a", "quiet:b", "chat:c"}, t0_);
  EXPECT_EQ(lost.sweep(t0_ + timeout_ - std::chrono::milliseconds(1)), 0u);
  EXPECT_TRUE(relayed_.empty()) << "still within node_timeout";
  EXPECT_EQ(lost.sweep(t0_ + timeout_), 1u);
  auto got = relayedChannels();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"n1 chat:a", "n1 chat:c"}))
      << "a namespace without join_leave gets nothing";
  EXPECT_EQ(lost.sweep(t0_ + 3 * timeout_), 0u) << "once";
  EXPECT_EQ(lost.known(), 0u);
}

TEST_F(LostNodeLeavesTest, TheSameProcessBackInTimeKeptItsConnections) {
  LostNodeLeaves lost(engine_, store_, timeout_);
  lost.attached("n1", "i1", 1);
  lost.departed("n1", 1, {"chat:a"}, t0_);
  lost.attached("n1", "i1", 2);
  EXPECT_EQ(lost.sweep(t0_ + 2 * timeout_), 0u);
  EXPECT_TRUE(relayed_.empty());
}

TEST_F(LostNodeLeavesTest, ANewProcessOfTheNodeMeansTheOldConnectionsLeftAtOnce) {
  LostNodeLeaves lost(engine_, store_, timeout_);
  lost.attached("n1", "i1", 1);
  lost.departed("n1", 1, {"chat:a"}, t0_);
  lost.attached("n1", "i2", 2);
  EXPECT_EQ(relayedChannels(), (std::vector<std::string>{"n1 chat:a"}));
  EXPECT_EQ(lost.sweep(t0_ + 2 * timeout_), 0u);
}

TEST_F(LostNodeLeavesTest, ANewProcessReplacingALiveSessionMakesItsConnectionsLeave) {
  LostNodeLeaves lost(engine_, store_, timeout_);
  lost.attached("n1", "i1", 1);
  // Same process, new stream (the old one half-open): nothing left.
  lost.attached("n1", "i1", 2, std::string("i1"), {"chat:a"});
  EXPECT_TRUE(relayed_.empty());
  // A new process while the old session still looked alive: its connections are gone.
  lost.attached("n1", "i2", 3, std::string("i1"), {"chat:a", "chat:a"});
  EXPECT_EQ(relayedChannels(), (std::vector<std::string>{"n1 chat:a"}));
  // The replaced sessions end late: nothing more, the new session holds the node.
  lost.departed("n1", 1, {"chat:a"}, t0_);
  lost.departed("n1", 2, {"chat:a"}, t0_);
  EXPECT_EQ(lost.sweep(t0_ + 2 * timeout_), 0u);
  EXPECT_EQ(relayed_.size(), 1u);
}

TEST_F(LostNodeLeavesTest, HellosHandledOutOfOrderKeepTheNewestSession) {
  LostNodeLeaves lost(engine_, store_, timeout_);
  lost.attached("n1", "i1", 2);  // B, attached second, handled first
  lost.attached("n1", "i1", 1);  // A, late: changes nothing
  lost.departed("n1", 1, {"chat:a"}, t0_);
  EXPECT_EQ(lost.sweep(t0_ + 2 * timeout_), 0u) << "A's end does not make a live node leave";
  lost.departed("n1", 2, {"chat:a"}, t0_);  // B's end: the node is away
  EXPECT_EQ(lost.sweep(t0_ + timeout_), 1u);
  EXPECT_EQ(relayedChannels(), (std::vector<std::string>{"n1 chat:a"}));
}

TEST_F(LostNodeLeavesTest, ANodeOnAnotherReplicaIsNotLostAndAnUnreadableDirectoryWaits) {
  std::optional<std::unordered_set<std::string>> elsewhere = std::unordered_set<std::string>{"n1"};
  LostNodeLeaves lost(engine_, store_, timeout_, [&] { return elsewhere; });
  lost.attached("n1", "i1", 1);
  lost.departed("n1", 1, {"chat:a"}, t0_);
  EXPECT_EQ(lost.sweep(t0_ + timeout_), 0u);
  EXPECT_TRUE(relayed_.empty());
  EXPECT_EQ(lost.known(), 0u);

  lost.attached("n2", "i1", 2);
  lost.departed("n2", 2, {"chat:a"}, t0_);
  elsewhere = std::nullopt;  // Redis away: nothing decided
  EXPECT_EQ(lost.sweep(t0_ + timeout_), 0u);
  EXPECT_EQ(lost.known(), 1u);
  elsewhere = std::unordered_set<std::string>{"n1"};
  EXPECT_EQ(lost.sweep(t0_ + timeout_ + timeout_), 1u);
  EXPECT_EQ(relayedChannels(), (std::vector<std::string>{"n2 chat:a"}));
}

TEST_F(LostNodeLeavesTest, ManyChannelsGoInChunks) {
  std::vector<size_t> calls;
  ON_CALL(engine_, relayJoinLeave(_))
      .WillByDefault(Invoke([&](const std::vector<herald::v1::JoinLeave>& changes) {
        calls.push_back(changes.size());
        return Status::ok();
      }));
  LostNodeLeaves lost(engine_, store_, timeout_);
  std::vector<std::string> channels;
  for (size_t i = 0; i < LostNodeLeaves::kRelayChunk + 5; ++i) {
    channels.push_back("chat:" + std::to_string(i));
  }
  lost.attached("n1", "i1", 1);
  lost.departed("n1", 1, channels, t0_);
  EXPECT_EQ(lost.sweep(t0_ + timeout_), 1u);
  EXPECT_EQ(calls, (std::vector<size_t>{LostNodeLeaves::kRelayChunk, 5}));
}

}  // namespace
}  // namespace herald::control
