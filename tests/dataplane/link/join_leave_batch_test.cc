#include "dataplane/link/join_leave_batch.h"

#include <gtest/gtest.h>

#include <map>

#include "common/join_leave_entries.h"

namespace herald::node {
namespace {

// Channel -> the report's entry for it, across the messages of one take().
std::map<std::string, herald::v1::JoinLeave> byChannel(
    const std::vector<herald::v1::NodeMessage>& messages) {
  std::map<std::string, herald::v1::JoinLeave> out;
  for (const auto& m : messages) {
    EXPECT_TRUE(m.has_join_leave());
    for (const auto& change : m.join_leave().channels()) {
      EXPECT_EQ(out.count(change.channel()), 0u) << change.channel() << " reported twice";
      out[change.channel()] = change;
    }
  }
  return out;
}

TEST(JoinLeaveBatchTest, ReportsJoinsAndLeavesPerChannelAndStartsANewWindow) {
  JoinLeaveBatch batch;
  batch.joined("chat:a", "n-0-1", "alice");
  batch.joined("chat:a", "n-0-2", "");
  batch.left("chat:b", "n-0-3", "bob");
  auto report = byChannel(batch.take());
  ASSERT_EQ(report.size(), 2u);
  ASSERT_EQ(report["chat:a"].joined_size(), 2);
  EXPECT_EQ(report["chat:a"].joined(0).client(), "n-0-1");
  EXPECT_EQ(report["chat:a"].joined(0).user(), "alice");
  EXPECT_EQ(report["chat:a"].joined(1).user(), "");
  EXPECT_EQ(report["chat:a"].left_size(), 0);
  ASSERT_EQ(report["chat:b"].left_size(), 1);
  EXPECT_EQ(report["chat:b"].left(0).client(), "n-0-3");
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(batch.take().empty());
}

TEST(JoinLeaveBatchTest, AJoinAndALeaveOfOneConnectionInAWindowCancelOut) {
  JoinLeaveBatch batch;
  batch.joined("chat:a", "n-0-1", "alice");
  batch.left("chat:a", "n-0-1", "alice");
  batch.left("chat:a", "n-0-2", "bob");  // joined in an earlier window, then left and came back
  batch.joined("chat:a", "n-0-2", "bob");
  batch.joined("chat:a", "n-0-3", "carol");
  batch.left("chat:b", "n-0-3", "carol");  // another channel: no cancelling across channels
  auto report = byChannel(batch.take());
  ASSERT_EQ(report["chat:a"].joined_size(), 1);
  EXPECT_EQ(report["chat:a"].joined(0).client(), "n-0-3");
  EXPECT_EQ(report["chat:a"].left_size(), 0);
  EXPECT_EQ(report["chat:b"].left_size(), 1);

  // A window where everything cancelled says nothing at all.
  batch.joined("chat:c", "n-0-4", "dan");
  batch.left("chat:c", "n-0-4", "dan");
  EXPECT_TRUE(batch.take().empty());
}

TEST(JoinLeaveBatchTest, ChurnPastTheListCapIsCountedAndTheNetCountStaysRight) {
  JoinLeaveBatch batch;
  const size_t n = JoinLeaveBatch::kMaxListed + 50;
  for (size_t i = 0; i < n; ++i) {
    batch.joined("chat:a", "c" + std::to_string(i), "u");
  }
  // Every unlisted one leaves again, and five listed ones: the net count must be 95 + 0.
  for (size_t i = JoinLeaveBatch::kMaxListed - 5; i < n; ++i) {
    batch.left("chat:a", "c" + std::to_string(i), "u");
  }
  auto report = byChannel(batch.take());
  const auto& a = report["chat:a"];
  EXPECT_LE(a.joined_size(), static_cast<int>(JoinLeaveBatch::kMaxListed));
  EXPECT_LE(a.left_size(), static_cast<int>(JoinLeaveBatch::kMaxListed));
  const int64_t net = static_cast<int64_t>(a.joined_size()) + a.joined_unlisted() -
                      static_cast<int64_t>(a.left_size()) - a.left_unlisted();
  EXPECT_EQ(net, static_cast<int64_t>(JoinLeaveBatch::kMaxListed) - 5);
  EXPECT_EQ(a.joined_unlisted(), 50u);
}

TEST(JoinLeaveBatchTest, ChannelsPastTheCapAreCountedUnreported) {
  JoinLeaveBatch batch;
  for (size_t i = 0; i < JoinLeaveBatch::kMaxChannels + 3; ++i) {
    batch.joined("chat:" + std::to_string(i), "c", "u");
  }
  EXPECT_EQ(batch.unreported(), 3u);
  uint64_t entries = 0;
  auto messages = batch.take();
  for (const auto& m : messages) {
    entries += joinLeaveEntries(m.join_leave());
    // Cut well below gRPC's 4 MiB message limit.
    EXPECT_LT(m.ByteSizeLong(), 2 * JoinLeaveBatch::kMaxMessageBytes);
  }
  EXPECT_EQ(entries, JoinLeaveBatch::kMaxChannels);
  EXPECT_GT(messages.size(), 1u);
  // The next window starts empty, with room again.
  batch.joined("chat:x", "c", "u");
  EXPECT_EQ(byChannel(batch.take()).size(), 1u);
  EXPECT_EQ(batch.unreported(), 3u);
}

TEST(JoinLeaveBatchTest, TheFirstEntryOfAWindowWakesTheReporter) {
  JoinLeaveBatch batch;
  int wakes = 0;
  batch.setNotifier([&] { ++wakes; });
  batch.joined("chat:a", "c1", "u");
  batch.joined("chat:b", "c2", "u");
  EXPECT_EQ(wakes, 1);
  batch.take();
  batch.left("chat:a", "c1", "u");
  EXPECT_EQ(wakes, 2);
}

}  // namespace
}  // namespace herald::node
