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

// Per-channel routing hears each stream's first and last node only, and a node's second
// Hello (a relink) changes nothing it kept.
TEST(RouterTest, InterestListenerHearsFirstAndLastNodeOfEachStream) {
  Router router;
  ::testing::StrictMock<MockInterestListener> listener;
  router.setInterestListener(&listener);
  auto n1 = std::make_shared<NiceMock<MockNodeSink>>("n1");
  auto n2 = std::make_shared<NiceMock<MockNodeSink>>("n2");
  {
    ::testing::InSequence order;
    EXPECT_CALL(listener, interestChanged("a", true));
    EXPECT_CALL(listener, interestChanged("#alice", true));
  }
  router.setNode(n1, {"a"}, {"alice"});
  ::testing::Mock::VerifyAndClearExpectations(&listener);

  router.setNode(n2, {"a"}, {});  // a second node of "a": nothing to hear
  ::testing::Mock::VerifyAndClearExpectations(&listener);

  // n1 says Hello again with "b" instead of "alice": only those two change.
  EXPECT_CALL(listener, interestChanged("b", true));
  EXPECT_CALL(listener, interestChanged("#alice", false));
  router.setNode(n1, {"a", "b"}, {});
  ::testing::Mock::VerifyAndClearExpectations(&listener);

  herald::v1::InterestDelta delta;
  delta.add_channels_removed("a");  // n2 still holds it
  delta.add_users_added("bob");
  EXPECT_CALL(listener, interestChanged("#bob", true));
  router.applyDelta(n1.get(), delta);
  ::testing::Mock::VerifyAndClearExpectations(&listener);

  EXPECT_CALL(listener, interestChanged("a", false));
  router.removeNode(n2.get());
  ::testing::Mock::VerifyAndClearExpectations(&listener);
  EXPECT_CALL(listener, interestChanged("b", false));
  EXPECT_CALL(listener, interestChanged("#bob", false));
  router.removeNode(n1.get());
  ::testing::Mock::VerifyAndClearExpectations(&listener);
  router.setInterestListener(nullptr);
}

}  // namespace
}  // namespace herald::control
