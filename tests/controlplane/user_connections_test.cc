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

constexpr uint64_t kNodeMax = 10000;
const int kNodeA = 0;
const int kNodeB = 0;

TEST(UserConnectionsTest, BlocksAtTheLimitAcrossNodesAndUnblocksBelowIt) {
  UserConnections users;
  EXPECT_TRUE(users.report(&kNodeA, counts({{"alice", 2}}), true, 3, kNodeMax).empty());
  auto changes = users.report(&kNodeB, counts({{"alice", 1}}), true, 3, kNodeMax);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], std::make_pair(std::string("alice"), true));
  EXPECT_EQ(users.total("alice"), 3u);
  EXPECT_EQ(users.blocked(), std::vector<std::string>{"alice"});
  changes = users.report(&kNodeA, counts({{"alice", 1}}), false, 3, kNodeMax);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second);
  EXPECT_TRUE(users.blocked().empty());
}

TEST(UserConnectionsTest, NodeLeavingReleasesItsCounts) {
  UserConnections users;
  users.report(&kNodeA, counts({{"alice", 2}, {"bob", 1}}), true, 2, kNodeMax);
  EXPECT_EQ(users.blocked(), std::vector<std::string>{"alice"});
  auto changes = users.removeNode(&kNodeA, 2);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].first, "alice");
  EXPECT_FALSE(changes[0].second);
  EXPECT_EQ(users.total("bob"), 0u);
}

TEST(UserConnectionsTest, FullReportReplacesTheNodesEarlierCounts) {
  UserConnections users;
  users.report(&kNodeA, counts({{"alice", 2}}), true, 2, kNodeMax);
  auto changes = users.report(&kNodeA, counts({{"bob", 1}}), true, 2, kNodeMax);
  EXPECT_EQ(users.total("alice"), 0u) << "alice is not in the node's new full report";
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second);
}

TEST(UserConnectionsTest, LimitChangesReevaluate) {
  UserConnections users;
  users.report(&kNodeA, counts({{"alice", 3}}), true, 10, kNodeMax);
  auto changes = users.setLimit(3);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].second);
  changes = users.setLimit(0);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second) << "limit 0 means no limit";
}

TEST(UserConnectionsTest, ANodeCannotClaimMoreConnectionsThanANodeHolds) {
  UserConnections users;
  bool refused = false;
  // One node claiming 1,000 connections for each of 100 users (to block them all) is held to
  // max_connections_per_node (here 150) in total.
  google::protobuf::RepeatedPtrField<herald::v1::UserCount> claim;
  for (int i = 0; i < 100; ++i) {
    auto* c = claim.Add();
    c->set_user("user" + std::to_string(i));
    c->set_connections(1000);
  }
  auto changes = users.report(&kNodeA, claim, true, 10, 150, &refused);
  EXPECT_TRUE(refused);
  uint64_t total = 0;
  for (int i = 0; i < 100; ++i) {
    total += users.total("user" + std::to_string(i));
  }
  EXPECT_EQ(total, 150u);
  EXPECT_LE(changes.size(), 15u) << "at most 150 / 10 users can be at the limit";
  // An honest report from another node is unaffected.
  users.report(&kNodeB, counts({{"carol", 3}}), true, 10, 150, &refused);
  EXPECT_FALSE(refused);
  EXPECT_EQ(users.total("carol"), 3u);
}

TEST(UserConnectionsTest, InvalidUserIdsAreIgnored) {
  UserConnections users;
  bool refused = false;
  users.report(&kNodeA, counts({{"", 5}, {"bad\x1b[31m", 5}, {"ok", 1}}), true, 2, kNodeMax,
               &refused);
  EXPECT_TRUE(refused);
  EXPECT_EQ(users.total(""), 0u);
  EXPECT_EQ(users.total("bad\x1b[31m"), 0u);
  EXPECT_EQ(users.total("ok"), 1u);
  users.report(&kNodeA, counts({{std::string(300, 'u').c_str(), 5}}), false, 2, kNodeMax, &refused);
  EXPECT_TRUE(refused);
}

// Other replicas' users count toward the limit like nodes'; only this replica's own nodes'
// changes are told to the listener (which tells the other replicas).
TEST(UserConnectionsTest, OtherReplicasCountTowardTheLimitAndAreNotEchoed) {
  UserConnections users;
  std::vector<std::pair<std::string, uint64_t>> told;
  users.setLocalListener([&](const std::string& user, uint64_t n) { told.emplace_back(user, n); });
  EXPECT_TRUE(users.report(&kNodeA, counts({{"alice", 1}}), true, 2, kNodeMax).empty());
  EXPECT_EQ(told, (std::vector<std::pair<std::string, uint64_t>>{{"alice", 1}}));
  told.clear();
  auto changes = users.reportReplica("b", {{"alice", 1}, {"bob", 5}}, true, 2);
  EXPECT_TRUE(told.empty()) << "another replica's counts echoed back";
  ASSERT_EQ(changes.size(), 2u);  // alice at 2, bob at 5: both blocked
  EXPECT_EQ(users.total("alice"), 2u);
  EXPECT_EQ(users.localUsers(), (std::vector<std::pair<std::string, uint64_t>>{{"alice", 1}}));
  // A full list replaces what the replica had: bob is gone there.
  changes = users.reportReplica("b", {{"alice", 1}}, true, 2);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], std::make_pair(std::string("bob"), false));
  // The replica is forgotten: alice is back under the limit.
  changes = users.forgetReplica("b", 2);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], std::make_pair(std::string("alice"), false));
  EXPECT_EQ(users.total("alice"), 1u);
  // Local node gone: told with 0.
  users.removeNode(&kNodeA, 2);
  EXPECT_EQ(told, (std::vector<std::pair<std::string, uint64_t>>{{"alice", 0}}));
}

}  // namespace
}  // namespace herald::control
