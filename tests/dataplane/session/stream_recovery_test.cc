#include "dataplane/session/stream_recovery.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

using Recovery = StreamRecovery<uint64_t>;  // the "frame" is its offset, for checking

herald::v1::RecoverResponse page(std::vector<uint64_t> offsets, uint64_t top, bool complete,
                                 const std::string& epoch = "e1", bool recovered = true) {
  herald::v1::RecoverResponse p;
  for (auto o : offsets) {
    auto* pub = p.add_publications();
    pub->set_offset(o);
    pub->set_epoch(epoch);
  }
  p.set_offset(top);
  p.set_epoch(epoch);
  p.set_recovered(recovered);
  p.set_complete(complete);
  return p;
}

std::vector<uint64_t> sent(const Recovery::Step& step) {
  std::vector<uint64_t> out;
  for (const auto* pub : step.send) {
    out.push_back(pub->offset());
  }
  return out;
}

TEST(StreamRecoveryTest, HistoryThenHeldLiveFramesWithoutDuplicates) {
  Recovery r(1, "chat:a", "", StreamPosition{10, "e1"}, 0, 100);
  EXPECT_EQ(r.nextRequest().since_offset(), 10u);
  // Live 13 and 14 arrive before the history (which was read when 13 existed).
  r.hold(13, 13);
  r.hold(14, 14);
  auto p = page({11, 12, 13}, 13, true);
  auto step = r.onPage(p);
  EXPECT_EQ(sent(step), (std::vector<uint64_t>{11, 12, 13}));
  ASSERT_TRUE(step.finished);
  EXPECT_TRUE(step.outcome.recovered);
  EXPECT_EQ(step.outcome.missed, 3u);
  EXPECT_EQ(step.outcome.offset, 13u);
  EXPECT_EQ(step.release, (std::vector<uint64_t>{14})) << "13 came from history already";
}

TEST(StreamRecoveryTest, PagesContinueFromTheLastOffsetSent) {
  Recovery r(1, "chat:a", "", StreamPosition{0, ""}, 0, 100);
  auto first = page({1, 2}, 5, false);
  auto step = r.onPage(first);
  EXPECT_FALSE(step.finished);
  EXPECT_EQ(r.nextRequest().since_offset(), 2u);
  EXPECT_EQ(r.nextRequest().epoch(), "e1") << "a client without epoch adopts the stream's";
  auto second = page({3, 4, 5}, 5, true);
  step = r.onPage(second);
  EXPECT_EQ(sent(step), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(step.finished);
  EXPECT_EQ(step.outcome.missed, 5u);
}

TEST(StreamRecoveryTest, NotRecoveredReleasesOnlyLiveFramesAfterTheCurrentOffset) {
  Recovery r(1, "chat:a", "", StreamPosition{3, "old"}, 0, 100);
  r.hold(7, 7);
  r.hold(8, 8);
  auto p = page({}, 7, true, "e2", false);
  auto step = r.onPage(p);
  ASSERT_TRUE(step.finished);
  EXPECT_FALSE(step.outcome.recovered);
  EXPECT_EQ(step.outcome.offset, 7u);
  EXPECT_EQ(step.outcome.epoch, "e2");
  EXPECT_EQ(step.release, (std::vector<uint64_t>{8}));
}

TEST(StreamRecoveryTest, EpochChangeBetweenPagesEndsUnrecovered) {
  Recovery r(1, "chat:a", "", StreamPosition{0, "e1"}, 0, 100);
  auto first = page({1}, 3, false);
  r.onPage(first);
  auto second = page({1, 2}, 2, true, "e2");
  auto step = r.onPage(second);
  EXPECT_TRUE(step.finished);
  EXPECT_FALSE(step.outcome.recovered);
  EXPECT_TRUE(step.send.empty());
}

TEST(StreamRecoveryTest, FailureKeepsTheClientsPositionAndReleasesNewerLiveFrames) {
  Recovery r(1, "", "alice", StreamPosition{5, "e1"}, 0, 100);
  EXPECT_TRUE(r.isUserStream());
  EXPECT_EQ(r.nextRequest().user(), "alice");
  r.hold(5, 5);
  r.hold(6, 6);
  auto step = r.fail("unavailable");
  EXPECT_FALSE(step.outcome.recovered);
  EXPECT_EQ(step.outcome.reason, "unavailable");
  EXPECT_EQ(step.outcome.offset, 5u);
  EXPECT_EQ(step.release, (std::vector<uint64_t>{6}));
}

TEST(StreamRecoveryTest, HeldFramesAreBounded) {
  Recovery r(1, "a", "", StreamPosition{0, "e1"}, 0, 2);
  EXPECT_TRUE(r.hold(1, 1));
  EXPECT_TRUE(r.hold(2, 2));
  EXPECT_FALSE(r.hold(3, 3));
  auto p = page({}, 0, true);
  auto step = r.onPage(p);
  EXPECT_EQ(step.release, (std::vector<uint64_t>{2, 3}));
}

}  // namespace
}  // namespace herald::node
