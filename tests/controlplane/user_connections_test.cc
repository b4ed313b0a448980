#include "controlplane/user_connections.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

google::protobuf::RepeatedPtrField<herald::v1::UserCount> counts(
    std::initializer_list<std::pair<const char*, uint32_t>> list) {
  google::protobuf::RepeatedPtrField<herald::v1::UserCount> out;
  for (const auto& [user, n] : list) {
    auto* c = out.Add();
    c->set_user(user);
    c->set_connections(n);
  }
  return out;
}

const int kNodeA = 0;
const int kNodeB = 0;

TEST(UserConnectionsTest, BlocksAtTheLimitAcrossNodesAndUnblocksBelowIt) {
  UserConnections users;
  EXPECT_TRUE(users.report(&kNodeA, counts({{"alice", 2}}), true, 3).empty());
  auto changes = users.report(&kNodeB, counts({{"alice", 1}}), true, 3);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], std::make_pair(std::string("alice"), true));
  EXPECT_EQ(users.total("alice"), 3u);
  EXPECT_EQ(users.blocked(), std::vector<std::string>{"alice"});
  changes = users.report(&kNodeA, counts({{"alice", 1}}), false, 3);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second);
  EXPECT_TRUE(users.blocked().empty());
}

TEST(UserConnectionsTest, NodeLeavingReleasesItsCounts) {
  UserConnections users;
  users.report(&kNodeA, counts({{"alice", 2}, {"bob", 1}}), true, 2);
  EXPECT_EQ(users.blocked(), std::vector<std::string>{"alice"});
  auto changes = users.removeNode(&kNodeA, 2);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].first, "alice");
  EXPECT_FALSE(changes[0].second);
  EXPECT_EQ(users.total("bob"), 0u);
}

TEST(UserConnectionsTest, FullReportReplacesTheNodesEarlierCounts) {
  UserConnections users;
  users.report(&kNodeA, counts({{"alice", 2}}), true, 2);
  auto changes = users.report(&kNodeA, counts({{"bob", 1}}), true, 2);
  EXPECT_EQ(users.total("alice"), 0u) << "alice is not in the node's new full report";
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second);
}

TEST(UserConnectionsTest, LimitChangesReevaluate) {
  UserConnections users;
  users.report(&kNodeA, counts({{"alice", 3}}), true, 10);
  auto changes = users.setLimit(3);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].second);
  changes = users.setLimit(0);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second) << "limit 0 means no limit";
}

}  // namespace
}  // namespace herald::control
