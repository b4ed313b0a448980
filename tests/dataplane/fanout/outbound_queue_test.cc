#include "dataplane/fanout/outbound_queue.h"

#include <memory>

#include <gtest/gtest.h>

namespace herald::node {
namespace {

using Frame = std::shared_ptr<const int>;
using Queue = OutboundQueue<Frame>;

Frame frame(int n) { return std::make_shared<const int>(n); }

TEST(OutboundQueueTest, DropPolicyDropsOldestFirstWhenOverMessages) {
  Queue q;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(q.push(frame(i), 10, 3, 0, true), Queue::PushResult::kQueued);
  }
  EXPECT_EQ(q.push(frame(4), 10, 3, 0, true), Queue::PushResult::kDropped);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(*q.pop().frame, 2) << "the oldest (1) went first";
  EXPECT_EQ(*q.pop().frame, 3);
  EXPECT_EQ(*q.pop().frame, 4);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(OutboundQueueTest, DropPolicyHonoursTheByteBound) {
  Queue q;
  q.push(frame(1), 60, 0, 100, true);
  q.push(frame(2), 30, 0, 100, true);
  EXPECT_EQ(q.push(frame(3), 50, 0, 100, true), Queue::PushResult::kDropped);
  EXPECT_EQ(q.bytes(), 80u);
  EXPECT_EQ(*q.pop().frame, 2);
}

TEST(OutboundQueueTest, DisconnectPolicyReportsOverflowAndQueuesNothing) {
  Queue q;
  q.push(frame(1), 10, 2, 0, false);
  q.push(frame(2), 10, 2, 0, false);
  EXPECT_EQ(q.push(frame(3), 10, 2, 0, false), Queue::PushResult::kOverflow);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(OutboundQueueTest, AFrameLargerThanTheBoundIsStillQueuedAlone) {
  Queue q;
  EXPECT_EQ(q.push(frame(1), 500, 0, 100, false), Queue::PushResult::kQueued);
  EXPECT_EQ(q.push(frame(2), 500, 0, 100, true), Queue::PushResult::kDropped);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(*q.pop().frame, 2);
}

TEST(OutboundQueueTest, ServerFramesAreNeverDroppedAndPublicationsAroundThemAre) {
  Queue q;
  q.push(frame(1), 10, 3, 0, true);
  q.push(frame(2), 10, 3, 0, true, /*kept=*/true);  // e.g. a `recovery` frame
  q.push(frame(3), 10, 3, 0, true);
  EXPECT_EQ(q.push(frame(4), 10, 3, 0, true), Queue::PushResult::kDropped);
  EXPECT_EQ(q.push(frame(5), 10, 3, 0, true), Queue::PushResult::kDropped);
  auto first = q.pop();
  EXPECT_EQ(*first.frame, 2);
  EXPECT_TRUE(first.kept);
  EXPECT_EQ(*q.pop().frame, 4);
  EXPECT_EQ(*q.pop().frame, 5);
  // Kept frames are queued even over the bounds, under either policy.
  q.push(frame(6), 10, 1, 0, false);
  EXPECT_EQ(q.push(frame(7), 10, 1, 0, false, true), Queue::PushResult::kQueued);
  EXPECT_EQ(q.size(), 2u);
  // ... but not without end: twice the bounds overflows.
  EXPECT_EQ(q.push(frame(8), 10, 1, 0, false, true), Queue::PushResult::kOverflow);
}

}  // namespace
}  // namespace herald::node
