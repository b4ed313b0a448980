#include "dataplane/fanout/delivery_tally.h"

#include <string>

#include <gtest/gtest.h>

namespace herald::node {
namespace {

TEST(DeliveryTallyTest, ShardsHandInAndTheHeartbeatTakesTheSumOnce) {
  DeliveryTallies node;
  DeliveryTally shard_a;
  DeliveryTally shard_b;
  const std::string eur = "prices:eur";
  const std::string usd = "prices:usd";
  shard_a.add("prices", &eur, 10);
  shard_a.add("(user)", nullptr, 2);
  shard_b.add("prices", &eur, 5);
  shard_b.add("prices", &usd, 1);
  node.hand(shard_a);
  node.hand(shard_b);

  herald::v1::NodeStats first;
  node.take(&first);
  ASSERT_EQ(first.namespace_deliveries_size(), 2);
  EXPECT_EQ(first.namespace_deliveries(0).name(), "(user)");
  EXPECT_EQ(first.namespace_deliveries(0).deliveries(), 2u);
  EXPECT_EQ(first.namespace_deliveries(1).name(), "prices");
  EXPECT_EQ(first.namespace_deliveries(1).deliveries(), 16u);
  ASSERT_EQ(first.channel_deliveries_size(), 2);
  EXPECT_EQ(first.channel_deliveries(0).name(), eur) << "most delivered first";
  EXPECT_EQ(first.channel_deliveries(0).deliveries(), 15u);

  herald::v1::NodeStats second;
  node.take(&second);
  EXPECT_EQ(second.namespace_deliveries_size(), 0) << "taken once: the next report is new";
  EXPECT_EQ(second.channel_deliveries_size(), 0);
}

TEST(DeliveryTallyTest, ChannelsAreBoundedAndTheReportKeepsTheBusiest) {
  DeliveryTally tally;
  const std::string hot = "hot";
  tally.add("(default)", &hot, 1000);
  for (size_t i = 0; i < DeliveryTally::kMaxChannels * 2; ++i) {
    const std::string channel = "c" + std::to_string(i);
    tally.add("(default)", &channel, 1);
  }
  herald::v1::NodeStats stats;
  tally.report(DeliveryTallies::kReportedChannels, &stats);
  ASSERT_EQ(stats.channel_deliveries_size(), static_cast<int>(DeliveryTallies::kReportedChannels));
  EXPECT_EQ(stats.channel_deliveries(0).name(), "hot");
  ASSERT_EQ(stats.namespace_deliveries_size(), 1);
  EXPECT_EQ(stats.namespace_deliveries(0).deliveries(), 1000 + DeliveryTally::kMaxChannels * 2)
      << "past the channel bound a delivery still counts for its namespace";

  DeliveryTally merged;
  merged.merge(tally);
  merged.merge(tally);
  herald::v1::NodeStats twice;
  merged.report(1, &twice);
  ASSERT_EQ(twice.channel_deliveries_size(), 1);
  EXPECT_EQ(twice.channel_deliveries(0).deliveries(), 2000u);
}

}  // namespace
}  // namespace herald::node
