#include "dataplane/link/interest_tracker.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace herald::node {
namespace {

std::vector<std::string> sorted(const google::protobuf::RepeatedPtrField<std::string>& f) {
  std::vector<std::string> v(f.begin(), f.end());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(InterestTrackerTest, DeltaOnlyOnFirstAndLastAcrossShards) {
  InterestTracker t;
  int notified = 0;
  t.setNotifier([&] { ++notified; });
  t.channelAdded("a");  // shard 0
  t.channelAdded("a");  // shard 1
  herald::v1::InterestDelta d1;
  ASSERT_TRUE(t.takeDelta(&d1));
  EXPECT_EQ(sorted(d1.channels_added()), std::vector<std::string>{"a"});
  EXPECT_GT(notified, 0);

  t.channelRemoved("a");  // one shard left: still interested
  herald::v1::InterestDelta d2;
  EXPECT_FALSE(t.takeDelta(&d2));
  t.channelRemoved("a");
  herald::v1::InterestDelta d3;
  ASSERT_TRUE(t.takeDelta(&d3));
  EXPECT_EQ(sorted(d3.channels_removed()), std::vector<std::string>{"a"});
}

TEST(InterestTrackerTest, AddThenRemoveBetweenReportsCancelsOut) {
  InterestTracker t;
  t.channelAdded("x");
  t.channelRemoved("x");
  t.userAdded("u");
  herald::v1::InterestDelta d;
  ASSERT_TRUE(t.takeDelta(&d));
  EXPECT_EQ(d.channels_added_size() + d.channels_removed_size(), 0);
  EXPECT_EQ(sorted(d.users_added()), std::vector<std::string>{"u"});
}

TEST(InterestTrackerTest, FullSnapshotResetsTheBaseline) {
  InterestTracker t;
  t.channelAdded("a");
  t.channelAdded("b");
  t.userAdded("u");
  std::vector<std::string> channels, users;
  t.takeFull(&channels, &users);
  std::sort(channels.begin(), channels.end());
  EXPECT_EQ(channels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(users, std::vector<std::string>{"u"});
  herald::v1::InterestDelta d;
  EXPECT_FALSE(t.takeDelta(&d)) << "everything was reported in the full snapshot";
  EXPECT_EQ(t.channels(), 2u);
  EXPECT_EQ(t.users(), 1u);
}

TEST(InterestTrackerTest, UserConnectionCountsAreReported) {
  InterestTracker t;
  t.userConnections("alice", +1);
  t.userConnections("alice", +1);
  herald::v1::InterestDelta d;
  ASSERT_TRUE(t.takeDelta(&d));
  ASSERT_EQ(d.user_counts_size(), 1);
  EXPECT_EQ(d.user_counts(0).connections(), 2u);
  t.userConnections("alice", -1);
  t.userConnections("alice", -1);
  herald::v1::InterestDelta gone;
  ASSERT_TRUE(t.takeDelta(&gone));
  ASSERT_EQ(gone.user_counts_size(), 1);
  EXPECT_EQ(gone.user_counts(0).connections(), 0u) << "zero tells the control plane she left";
  t.userConnections("bob", +1);
  std::vector<std::string> channels, users;
  google::protobuf::RepeatedPtrField<herald::v1::UserCount> full;
  t.takeFull(&channels, &users, &full);
  ASSERT_EQ(full.size(), 1);
  EXPECT_EQ(full.Get(0).user(), "bob");
}

}  // namespace
}  // namespace herald::node
