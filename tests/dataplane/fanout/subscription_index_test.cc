#include "dataplane/fanout/subscription_index.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

struct Sub {};

TEST(SubscriptionIndexTest, ReportsFirstAndLastSubscriber) {
  SubscriptionIndex<Sub> index;
  Sub a, b;
  EXPECT_TRUE(index.add("ch", &a));
  EXPECT_FALSE(index.add("ch", &b));
  EXPECT_EQ(index.find("ch")->size(), 2u);
  EXPECT_EQ(index.subscriptions(), 2u);
  EXPECT_FALSE(index.remove("ch", &a));
  EXPECT_TRUE(index.remove("ch", &b));
  EXPECT_EQ(index.find("ch"), nullptr);
  EXPECT_EQ(index.channels(), 0u);
  EXPECT_EQ(index.subscriptions(), 0u);
}

TEST(SubscriptionIndexTest, RemovingAbsentPairsIsANoOp) {
  SubscriptionIndex<Sub> index;
  Sub a, b;
  EXPECT_FALSE(index.remove("none", &a));
  index.add("ch", &a);
  EXPECT_FALSE(index.remove("ch", &b));
  EXPECT_EQ(index.subscriptions(), 1u);
}

}  // namespace
}  // namespace herald::node
