#include "controlplane/stats/top_counter.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

TEST(TopCounterTest, ExactWhileKeysFit) {
  TopCounter top(4);
  top.add("a", 3);
  top.add("b", 5);
  top.add("a", 4);
  const auto entries = top.top(10);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key, "a");
  EXPECT_EQ(entries[0].count, 7u);
  EXPECT_EQ(entries[0].error, 0u);
  EXPECT_EQ(entries[1].key, "b");
  EXPECT_EQ(top.total(), 12u);
}

TEST(TopCounterTest, HeavyKeysSurviveAFloodOfOnceOnlyKeysInBoundedMemory) {
  // Every key counted more than total/capacity times (117,500/64 = 1,836) is kept, and ranks
  // above keys whose count is only what they inherited.
  TopCounter top(64);
  // Three hot channels among 100,000 that publish once each (an attacker inventing names).
  for (int i = 0; i < 100000; ++i) {
    top.add("noise:" + std::to_string(i));
    if (i % 10 == 0) {
      top.add("hot:a");
    }
    if (i % 20 == 0) {
      top.add("hot:b");
    }
    if (i % 40 == 0) {
      top.add("hot:c");
    }
  }
  EXPECT_EQ(top.size(), 64u) << "memory stays at the capacity";
  const auto entries = top.top(3);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "hot:a");
  EXPECT_EQ(entries[1].key, "hot:b");
  EXPECT_EQ(entries[2].key, "hot:c");
  // The guarantee: true count within [count - error, count].
  EXPECT_LE(entries[0].count - entries[0].error, 10000u);
  EXPECT_GE(entries[0].count, 10000u);
}

TEST(TopCounterTest, ZeroCapacityKeepsNothing) {
  TopCounter top(0);
  top.add("a");
  EXPECT_TRUE(top.top(5).empty());
  EXPECT_EQ(top.total(), 1u);
}

}  // namespace
}  // namespace herald::control
