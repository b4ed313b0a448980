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

}  // namespace
}  // namespace herald::node
