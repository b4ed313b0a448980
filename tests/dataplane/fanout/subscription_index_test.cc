#include "dataplane/fanout/subscription_index.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

TagFilterPtr filter(const char* text) {
  return TagFilter::compile(nlohmann::json::parse(text)).value();
}

TEST(SubscriptionIndexTest, EqualFiltersShareOneGroupAndItsCompiledFilter) {
  SubscriptionIndex<Sub> index;
  Sub plain, a, b, c;
  const TagFilterPtr eth = filter(R"({"key":"chain","eq":"eth"})");
  const TagFilterPtr eth_again = filter(R"({ "eq":"eth", "key":"chain" })");
  const TagFilterPtr sol = filter(R"({"key":"chain","eq":"sol"})");
  EXPECT_TRUE(index.add("ch", &a, eth));
  EXPECT_FALSE(index.add("ch", &b, eth_again));
  EXPECT_FALSE(index.add("ch", &c, sol));
  EXPECT_FALSE(index.add("ch", &plain));
  auto* entry = index.find("ch");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->size(), 4u);
  EXPECT_EQ(entry->plain.size(), 1u);
  ASSERT_EQ(entry->groups.size(), 2u);
  EXPECT_EQ(entry->groups[0].filter, eth) << "the first compiled filter is kept";
  EXPECT_EQ(entry->groups[0].members.size(), 2u);
  size_t seen = 0;
  entry->forEach([&](Sub*) { ++seen; });
  EXPECT_EQ(seen, 4u);

  EXPECT_FALSE(index.remove("ch", &a, sol.get())) << "not in that group: a no-op";
  EXPECT_FALSE(index.remove("ch", &a, eth.get()));
  EXPECT_FALSE(index.remove("ch", &b, eth_again.get()));
  EXPECT_EQ(index.find("ch")->groups.size(), 1u) << "an empty group goes";
  EXPECT_FALSE(index.remove("ch", &plain));
  EXPECT_TRUE(index.remove("ch", &c, sol.get()));
  EXPECT_EQ(index.find("ch"), nullptr);
  EXPECT_EQ(index.subscriptions(), 0u);
}

}  // namespace
}  // namespace herald::node
