// Smoothing (docs/protocol.md "Smoothing"): a namespace's smooth_ms spreads a burst evenly
// over the interval instead of sending it at once; every publication still goes, in order,
// each within the interval of its arrival, with `prev` chained; the queue is bounded.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/conflation.h"
#include "dataplane/fanout/fanout.h"
#include "dataplane/fanout/group_delivery.h"
#include "dataplane/fanout/smoothing_queue.h"
#include "dataplane/session/session_harness.h"

namespace herald::node {
namespace {

using testing::FakeClient;
using testing::makeSettings;
using testing::ShardHarness;

constexpr uint32_t kSmoothMs = 1000;

NodeSettingsPtr smoothed() {
  return makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    auto* ns = s->add_namespaces();
    ns->set_name("tx");
    ns->set_smooth_ms(kSmoothMs);
  });
}

DeliveryPtr publication(uint64_t offset) {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel("tx:all");
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_epoch("e1");
  d.mutable_publication()->set_data("{}");
  return makeDelivery(d);
}

std::vector<DeliveryPtr> burst(uint64_t from, uint64_t to) {
  std::vector<DeliveryPtr> out;
  for (uint64_t o = from; o <= to; ++o) {
    out.push_back(publication(o));
  }
  return out;
}

TEST(SmoothingQueueTest, SpacesSoThatEveryOneMeetsItsTime) {
  SmoothingQueue q;
  q.sent(0, 1);
  q.push({publication(1), 1000, 0});
  EXPECT_EQ(q.nextAt(0), 1000) << "one waiting: it may use the whole interval";
  for (uint64_t o = 2; o <= 4; ++o) {
    q.push({publication(o), 1000, 0});
  }
  EXPECT_EQ(q.nextAt(0), 250) << "four due at 1000: every 250 ms";
  q.push({publication(5), 1100, 0});
  EXPECT_EQ(q.nextAt(0), 220) << "the fifth, due later, may go at 1100: 1100 / 5";
  EXPECT_EQ(q.nextAt(500), 500) << "not before now";
  EXPECT_EQ(q.dueAt(220), 1u);
  EXPECT_EQ(q.dueAt(660), 3u) << "a late tick sends every slot that has passed";
  EXPECT_EQ(q.dueAt(1000), 4u) << "and not the fifth, due at 1100";
  EXPECT_EQ(q.pop().delivery->offset, 1u);
  q.sent(220, 1);
  EXPECT_EQ(q.nextAt(220), 440) << "sent in its slot: the spacing holds";
  q.sent(5000, 1);
  EXPECT_EQ(q.nextAt(5000), 5001) << "late: all overdue, as soon as the timer allows";
  EXPECT_EQ(q.dueAt(5001), 4u) << "everything overdue goes on that tick";
  EXPECT_FALSE(q.over());
}

TEST(SmoothingQueueTest, ASpacingUnderAMillisecondSendsSeveralPerTick) {
  SmoothingQueue q;
  q.sent(0, 1);
  for (uint64_t o = 1; o <= 400; ++o) {
    q.push({publication(o), 100, 0});  // 400 due within 100 ms: one every 0.25 ms
  }
  EXPECT_EQ(q.nextAt(0), 1) << "the timer's millisecond";
  EXPECT_EQ(q.dueAt(1), 4u);
  EXPECT_EQ(q.dueAt(50), 200u);
}

TEST(SmoothingTest, ABurstIsSpreadEvenlyOverTheIntervalInOrder) {
  ShardHarness shard(smoothed());
  FakeClient& a = shard.connect("/ws?subscribe=tx:all");
  FakeClient& b = shard.connect("/ws?subscribe=tx:all");
  auto* entry = shard.state->channels.find("tx:all");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->plain.empty()) << "the namespace's smoothing groups its subscribers";
  auto* group = entry->group(nullptr, kSmoothMs | kSmoothBit);
  ASSERT_NE(group, nullptr);

  const size_t a0 = a.received.size();
  const int64_t t0 = steadyMillis();
  fanOut(*shard.state, burst(1, 5));
  const int64_t t1 = steadyMillis();  // every one is due by t1 + the interval
  ASSERT_EQ(a.received.size(), a0 + 1) << "the first goes at once, the rest wait";
  EXPECT_EQ(a.frame(a0)["offset"], 1);
  EXPECT_EQ(group->smoothing.size(), 4u);

  std::vector<int64_t> sent_at;
  while (!group->smoothing.empty()) {
    const int64_t due = group->next_send_ms;
    EXPECT_EQ(flushConflated(*shard.state, due - 1), 0u) << "nothing before its time";
    EXPECT_EQ(flushConflated(*shard.state, due), 2u) << "one publication, both members";
    sent_at.push_back(due);
    ASSERT_LE(sent_at.size(), 4u);
  }
  ASSERT_EQ(sent_at.size(), 4u);
  // Evenly: 250 ms apart (within the clock's millisecond), the last by its time.
  for (size_t i = 1; i < sent_at.size(); ++i) {
    EXPECT_NEAR(sent_at[i] - sent_at[i - 1], 250, 3) << i;
  }
  EXPECT_LE(sent_at.back(), t1 + kSmoothMs);
  EXPECT_GE(sent_at.back(), t0 + kSmoothMs - 10);
  ASSERT_EQ(a.received.size(), a0 + 5);
  for (uint64_t n = 0; n < 5; ++n) {
    EXPECT_EQ(a.frame(a0 + n)["offset"], n + 1);
    EXPECT_EQ(a.frame(a0 + n)["prev"], n) << "prev chains every one: nothing skipped";
    EXPECT_FALSE(a.frame(a0 + n).contains("conflated"));
  }
  EXPECT_EQ(b.received.back(), a.received.back()) << "one frame per group";
}

TEST(SmoothingTest, ASteadyStreamIsNotDelayed) {
  ShardHarness shard(smoothed());
  FakeClient& a = shard.connect("/ws?subscribe=tx:all");
  auto* group = shard.state->channels.find("tx:all")->group(nullptr, kSmoothMs | kSmoothBit);
  ASSERT_NE(group, nullptr);
  const size_t a0 = a.received.size();
  for (uint64_t o = 1; o <= 3; ++o) {
    group->next_send_ms = 0;  // as if each came more than a millisecond after the last
    fanOut(*shard.state, {publication(o)});
    EXPECT_EQ(a.received.size(), a0 + o) << "a publication to a quiet group goes at once";
  }
}

TEST(SmoothingTest, TheQueueIsBoundedAndNothingIsDropped) {
  ShardHarness shard(smoothed());
  FakeClient& a = shard.connect("/ws?subscribe=tx:all");
  auto* group = shard.state->channels.find("tx:all")->group(nullptr, kSmoothMs | kSmoothBit);
  const size_t a0 = a.received.size();
  const uint64_t n = SmoothingQueue::kMaxQueued + 11;
  fanOut(*shard.state, burst(1, n));
  EXPECT_EQ(group->smoothing.size(), n - 1) << "the first went at once";
  // The next send (due now: the queue is over its bound) takes the excess at once.
  flushConflated(*shard.state, group->next_send_ms);
  EXPECT_EQ(group->smoothing.size(), SmoothingQueue::kMaxQueued);
  EXPECT_EQ(a.received.size(), a0 + 11) << "the first, and the oldest past the bound";
  for (int i = 0; i < 2000 && !group->smoothing.empty(); ++i) {
    flushConflated(*shard.state, group->next_send_ms);
  }
  ASSERT_EQ(a.received.size(), a0 + n);
  for (uint64_t k = 0; k < n; ++k) {
    ASSERT_EQ(a.frame(a0 + k)["offset"], k + 1) << "in order";
  }
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 0u);
}

TEST(SmoothingTest, AGroupMovedOverALeavingOneKeepsTheGaugeRight) {
  ShardHarness shard(smoothed());
  FakeClient& plain = shard.connect("/ws?subscribe=tx:all");
  FakeClient& filtered = shard.connect();
  filtered.send({{"type", "subscribe"},
                 {"id", 1},
                 {"channels", {"tx:all"}},
                 {"filter", {{"key", "chain"}, {"exists", false}}}});
  ASSERT_EQ(filtered.last()["type"], "reply") << filtered.received.back();
  ASSERT_EQ(shard.state->channels.find("tx:all")->groups.size(), 2u);
  fanOut(*shard.state, burst(1, 4));  // each group: 1 at once, 3 waiting
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 6u);
  // The first group leaves: the last one is moved into its place.
  plain.session.closed();
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 3u);
  auto& group = shard.state->channels.find("tx:all")->groups.front();
  for (int i = 0; i < 10 && !group.smoothing.empty(); ++i) {
    flushConflated(*shard.state, group.next_send_ms);
  }
  EXPECT_EQ(filtered.last()["offset"], 4);
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 0u);
}

TEST(SmoothingTest, AClientsOwnConflationReplacesTheNamespacesSmoothing) {
  ShardHarness shard(smoothed());
  FakeClient& ticker = shard.connect();
  ticker.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"tx:all"}}, {"conflate_ms", 100}});
  ASSERT_EQ(ticker.last()["type"], "reply") << ticker.received.back();
  auto* entry = shard.state->channels.find("tx:all");
  EXPECT_NE(entry->group(nullptr, 100), nullptr);
  EXPECT_EQ(entry->group(nullptr, kSmoothMs | kSmoothBit), nullptr);
}

TEST(SmoothingTest, ALossBeforeAnEpochChangeStillShowsInPrev) {
  ShardHarness shard(smoothed());
  FakeClient& a = shard.connect("/ws?subscribe=tx:all");
  const size_t a0 = a.received.size();
  // 1 goes at once; 5 follows (2..4 lost on the way to the node) and waits; then the
  // channel's epoch changes while 5 still waits.
  herald::v1::Deliver next;
  next.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  next.mutable_publication()->set_channel("tx:all");
  next.mutable_publication()->set_offset(1);
  next.mutable_publication()->set_epoch("e2");
  next.mutable_publication()->set_data("{}");
  fanOut(*shard.state, {publication(1), publication(5), makeDelivery(next)});
  auto* group = shard.state->channels.find("tx:all")->group(nullptr, kSmoothMs | kSmoothBit);
  for (int i = 0; i < 10 && !group->smoothing.empty(); ++i) {
    flushConflated(*shard.state, group->next_send_ms);
  }
  ASSERT_EQ(a.received.size(), a0 + 3);
  EXPECT_EQ(a.frame(a0 + 1)["offset"], 5);
  EXPECT_EQ(a.frame(a0 + 1)["prev"], 4) << "2..4 were lost: prev must not say 1";
  EXPECT_EQ(a.frame(a0 + 2)["epoch"], "e2");
}

TEST(SmoothingTest, AGroupLeftWithWaitingPublicationsSendsNothingLater) {
  ShardHarness shard(smoothed());
  FakeClient& a = shard.connect("/ws?subscribe=tx:all");
  FakeClient& b = shard.connect("/ws?subscribe=tx:all");
  fanOut(*shard.state, burst(1, 3));
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 2u) << "/stats smoothing_waiting";
  a.session.closed();
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 2u) << "b still waits for them";
  b.session.closed();
  EXPECT_EQ(shard.state->counters.smoothing_waiting.load(), 0u) << "gone with the group";
  EXPECT_EQ(shard.state->channels.find("tx:all"), nullptr);
  EXPECT_EQ(flushConflated(*shard.state, steadyMillis() + 10000), 0u);
}

}  // namespace
}  // namespace herald::node
