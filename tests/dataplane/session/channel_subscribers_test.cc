#include "dataplane/session/channel_subscribers.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

TEST(ChannelSubscribersTest, LimitPerChannelAllOrNothing) {
  ChannelSubscribers subs;
  EXPECT_FALSE(subs.tryAdd({"a", "b"}, {2, 0}).has_value());
  EXPECT_FALSE(subs.tryAdd({"a"}, {2}).has_value());
  auto full = subs.tryAdd({"b", "a"}, {0, 2});
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(*full, 1u);
  EXPECT_EQ(subs.count("b"), 1u) << "nothing of a refused frame is added";
  EXPECT_EQ(subs.count("a"), 2u);
  subs.remove("a");
  EXPECT_FALSE(subs.tryAdd({"a"}, {2}).has_value()) << "a place freed is taken again";
}

TEST(ChannelSubscribersTest, UnlimitedChannelsAreCountedToo) {
  // A limit set later applies to the subscribers already there.
  ChannelSubscribers subs;
  EXPECT_FALSE(subs.tryAdd({"a"}, {0}).has_value());
  EXPECT_FALSE(subs.tryAdd({"a"}, {0}).has_value());
  EXPECT_TRUE(subs.tryAdd({"a"}, {2}).has_value());
  subs.remove("a");
  subs.remove("a");
  EXPECT_EQ(subs.count("a"), 0u);
  subs.remove("a");  // more removals than adds: stays at zero
  EXPECT_EQ(subs.count("a"), 0u);
}

TEST(ChannelSubscribersTest, TopListsTheBiggestChannelsMostFirst) {
  ChannelSubscribers subs;
  for (int i = 0; i < 50; ++i) {
    const std::string channel = "c" + std::to_string(i);
    for (int k = 0; k <= i % 10; ++k) {  // c9, c19, c29... have 10 each
      ASSERT_FALSE(subs.tryAdd({channel}, {0}).has_value());
    }
  }
  const auto top = subs.top(4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0], std::make_pair(std::string("c19"), 10u)) << "ties by name";
  EXPECT_EQ(top[1], std::make_pair(std::string("c29"), 10u));
  EXPECT_EQ(top[2], std::make_pair(std::string("c39"), 10u));
  EXPECT_EQ(top[3], std::make_pair(std::string("c49"), 10u));
  EXPECT_EQ(subs.top(100).size(), 50u) << "fewer channels than asked: all of them";
  EXPECT_TRUE(subs.top(0).empty());
  EXPECT_TRUE(ChannelSubscribers().top(3).empty());
}

}  // namespace
}  // namespace herald::node
