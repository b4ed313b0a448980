#include "controlplane/router.h"

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/controlplane/mocks.h"

namespace herald::control {
namespace {

using ::testing::NiceMock;

std::set<std::string> visitedForChannel(const Router& router, const std::string& channel) {
  std::set<std::string> ids;
  router.forChannel(channel, [&](NodeSink& n) { ids.insert(n.nodeId()); });
  return ids;
}

TEST(RouterTest, HelloInterestAndDeltas) {
  Router router;
  auto n1 = std::make_shared<NiceMock<MockNodeSink>>("n1");
  auto n2 = std::make_shared<NiceMock<MockNodeSink>>("n2");
  router.setNode(n1, {"a", "b"}, {"alice"});
  router.setNode(n2, {"b"}, {});
  EXPECT_EQ(visitedForChannel(router, "a"), (std::set<std::string>{"n1"}));
  EXPECT_EQ(visitedForChannel(router, "b"), (std::set<std::string>{"n1", "n2"}));
  EXPECT_TRUE(visitedForChannel(router, "c").empty());

  herald::v1::InterestDelta delta;
  delta.add_channels_added("c");
  delta.add_channels_removed("b");
  delta.add_users_added("bob");
  delta.add_users_removed("alice");
  router.applyDelta(n1.get(), delta);
  EXPECT_EQ(visitedForChannel(router, "b"), (std::set<std::string>{"n2"}));
  EXPECT_EQ(visitedForChannel(router, "c"), (std::set<std::string>{"n1"}));
  EXPECT_EQ(router.forUser("alice", [](NodeSink&) {}), 0u);
  EXPECT_EQ(router.forUser("bob", [](NodeSink&) {}), 1u);
  EXPECT_EQ(router.forAll([](NodeSink&) {}), 2u);
  auto channels = router.channelsWithInterest();
  EXPECT_EQ(channels.size(), 3u);
  EXPECT_EQ(channels["a"], 1u);
}

TEST(RouterTest, RemovedNodeGetsNothingAndLateDeltasAreIgnored) {
  Router router;
  auto n1 = std::make_shared<NiceMock<MockNodeSink>>("n1");
  router.setNode(n1, {"a"}, {"u"});
  router.removeNode(n1.get());
  EXPECT_EQ(router.nodesForChannel("a"), 0u);
  EXPECT_EQ(router.forAll([](NodeSink&) {}), 0u);
  herald::v1::InterestDelta delta;
  delta.add_channels_added("b");
  router.applyDelta(n1.get(), delta);  // a delta racing with removal must not resurrect it
  EXPECT_EQ(router.nodesForChannel("b"), 0u);
  EXPECT_TRUE(router.channelsWithInterest().empty());
}

TEST(RouterTest, SetNodeAgainReplacesInterest) {
  Router router;
  auto n1 = std::make_shared<NiceMock<MockNodeSink>>("n1");
  router.setNode(n1, {"a"}, {});
  router.setNode(n1, {"b"}, {});
  EXPECT_EQ(router.nodesForChannel("a"), 0u);
  EXPECT_EQ(router.nodesForChannel("b"), 1u);
}

TEST(RouterTest, DuplicateAddsDoNotDoubleDeliver) {
  Router router;
  auto n1 = std::make_shared<NiceMock<MockNodeSink>>("n1");
  router.setNode(n1, {"a", "a"}, {});
  herald::v1::InterestDelta delta;
  delta.add_channels_added("a");
  router.applyDelta(n1.get(), delta);
  EXPECT_EQ(router.nodesForChannel("a"), 1u);
}

}  // namespace
}  // namespace herald::control
