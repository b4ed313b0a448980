#include "dataplane/link/link_resync.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

herald::v1::Deliver channelDeliver(uint64_t offset, const std::string& epoch = "e1") {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel("c");
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_epoch(epoch);
  return d;
}

class LinkResyncTest : public ::testing::Test, public LinkResync::Output {
 protected:
  void dispatch(const DeliveryPtr& d) override { dispatched_.push_back(d->offset); }
  bool requestFirst(const herald::v1::RecoverRequest& r) override {
    requests_.push_back(r);
    return accept_;
  }

  LinkResync resync_{*this};
  std::vector<uint64_t> dispatched_;
  std::vector<herald::v1::RecoverRequest> requests_;
  bool accept_ = true;
};

TEST_F(LinkResyncTest, AfterANewSessionTheGapComesFromHistoryBeforeLiveOnes) {
  resync_.sessionStarted({"c"}, {});
  EXPECT_TRUE(requests_.empty()) << "no position yet: nothing to resync";
  resync_.onPublication(channelDeliver(1));
  resync_.onPublication(channelDeliver(2));
  resync_.sessionStarted({"c"}, {});
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_TRUE(LinkResync::ownsRequest(requests_[0].request_id()));
  EXPECT_EQ(requests_[0].channel(), "c");
  EXPECT_EQ(requests_[0].since_offset(), 2u);
  EXPECT_EQ(requests_[0].epoch(), "e1");
  resync_.onPublication(channelDeliver(6));  // live, while the history is read: held
  EXPECT_EQ(dispatched_, (std::vector<uint64_t>{1, 2}));
  herald::v1::RecoverResponse page;
  page.set_request_id(requests_[0].request_id());
  for (uint64_t o = 3; o <= 6; ++o) {
    auto* p = page.add_publications();
    p->set_channel("c");
    p->set_offset(o);
    p->set_epoch("e1");
  }
  page.set_offset(6);
  page.set_epoch("e1");
  page.set_recovered(true);
  page.set_complete(true);
  resync_.page(page);
  EXPECT_EQ(dispatched_, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6})) << "6 once, not twice";
  EXPECT_EQ(resync_.resyncing(), 0u);
  resync_.onPublication(channelDeliver(7));
  EXPECT_EQ(dispatched_.back(), 7u);
}

TEST_F(LinkResyncTest, StreamsWithoutInterestAreForgottenAndUnsendableRequestsRelease) {
  resync_.onPublication(channelDeliver(1));
  resync_.sessionStarted({}, {});
  EXPECT_TRUE(requests_.empty());
  resync_.sessionStarted({"c"}, {});
  EXPECT_TRUE(requests_.empty()) << "the position was dropped with the interest";
  resync_.onPublication(channelDeliver(2));
  accept_ = false;
  resync_.sessionStarted({"c"}, {});
  EXPECT_EQ(resync_.resyncing(), 0u) << "a request that cannot be queued ends the resync";
  resync_.onPublication(channelDeliver(3));
  EXPECT_EQ(dispatched_.back(), 3u);
}

}  // namespace
}  // namespace herald::node

namespace herald::node {
namespace {

TEST_F(LinkResyncTest, ANewEpochIsFetchedFromItsStartSoNothingPublishedAfterARestartIsLost) {
  resync_.onPublication(channelDeliver(9, "old"));
  resync_.sessionStarted({"c"}, {});
  ASSERT_EQ(requests_.size(), 1u);
  // herald-control restarted: new epoch, offsets from 1. It took 1..3 before this node linked;
  // 4 and 5 were routed here after Hello and are held.
  resync_.onPublication(channelDeliver(4, "new"));
  resync_.onPublication(channelDeliver(5, "new"));
  herald::v1::RecoverResponse changed;
  changed.set_request_id(requests_[0].request_id());
  changed.set_offset(5);
  changed.set_epoch("new");
  changed.set_recovered(false);
  changed.set_complete(true);
  resync_.page(changed);
  EXPECT_EQ(dispatched_, (std::vector<uint64_t>{9})) << "nothing released before the refetch";
  ASSERT_EQ(requests_.size(), 2u) << "the new epoch is asked for from its start";
  EXPECT_EQ(requests_[1].since_offset(), 0u);
  EXPECT_EQ(requests_[1].epoch(), "new");
  herald::v1::RecoverResponse history;
  history.set_request_id(requests_[1].request_id());
  history.set_offset(5);
  history.set_epoch("new");
  history.set_recovered(true);
  history.set_complete(true);
  for (uint64_t offset = 1; offset <= 5; ++offset) {
    auto* pub = history.add_publications();
    pub->set_channel("c");
    pub->set_offset(offset);
    pub->set_epoch("new");
  }
  resync_.page(history);
  EXPECT_EQ(dispatched_, (std::vector<uint64_t>{9, 1, 2, 3, 4, 5})) << "in order, once each";
  EXPECT_EQ(resync_.resyncing(), 0u);
  resync_.sessionStarted({"c"}, {});
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[2].since_offset(), 5u);
  EXPECT_EQ(requests_[2].epoch(), "new");
}

TEST_F(LinkResyncTest, AnEpochThatMovesAgainIsNotChasedForever) {
  resync_.onPublication(channelDeliver(9, "old"));
  resync_.sessionStarted({"c"}, {});
  resync_.onPublication(channelDeliver(1, "new"));
  herald::v1::RecoverResponse changed;
  changed.set_request_id(requests_[0].request_id());
  changed.set_offset(1);
  changed.set_epoch("new");
  changed.set_recovered(false);
  changed.set_complete(true);
  resync_.page(changed);
  ASSERT_EQ(requests_.size(), 2u);
  changed.set_request_id(requests_[1].request_id());
  changed.set_epoch("newer");
  resync_.page(changed);
  EXPECT_EQ(requests_.size(), 2u) << "one refetch per session";
  EXPECT_EQ(dispatched_, (std::vector<uint64_t>{9, 1})) << "held deliveries are released";
  EXPECT_EQ(resync_.resyncing(), 0u);
}

TEST_F(LinkResyncTest, AnInterruptedResyncWithoutInterestIsAbandoned) {
  resync_.onPublication(channelDeliver(1));
  resync_.sessionStarted({"c"}, {});
  EXPECT_EQ(resync_.resyncing(), 1u);
  resync_.sessionStarted({}, {});  // link broke again; nobody subscribes to c any more
  EXPECT_EQ(resync_.resyncing(), 0u);
  resync_.onPublication(channelDeliver(5));
  EXPECT_EQ(dispatched_.back(), 5u) << "live deliveries are not held for an abandoned resync";
}

TEST_F(LinkResyncTest, AnInterruptedResyncIsAskedAgainFromItsProgress) {
  resync_.onPublication(channelDeliver(1));
  resync_.sessionStarted({"c"}, {});
  herald::v1::RecoverResponse page;
  page.set_request_id(requests_[0].request_id());
  auto* p = page.add_publications();
  p->set_offset(2);
  p->set_epoch("e1");
  page.set_offset(5);
  page.set_epoch("e1");
  page.set_recovered(true);
  page.set_complete(false);
  resync_.page(page);
  ASSERT_EQ(requests_.size(), 2u);
  resync_.sessionStarted({"c"}, {});  // the link broke before the next page came
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[2].since_offset(), 2u);
  EXPECT_EQ(requests_[2].request_id(), requests_[0].request_id());
}

}  // namespace
}  // namespace herald::node
