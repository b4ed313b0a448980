#include "controlplane/redis/redis_stream_engine.h"

#include <gtest/gtest.h>

#include <map>

#include "controlplane/router.h"

namespace herald::control {
namespace {

RedisStreamEngine::Options instances(const std::vector<std::string>& urls) {
  RedisStreamEngine::Options options;
  for (const auto& url : urls) {
    options.instances.push_back(parseRedisAddress(url).value());
  }
  return options;
}

TEST(RedisAddressTest, ParsesUrlsAndRefusesWhatItCannotUse) {
  auto a = parseRedisAddress("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  auto b = parseRedisAddress("localhost");
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(b->port, 6379);
  EXPECT_FALSE(parseRedisAddress("rediss://h:1").isOk()) << "TLS is not supported";
  EXPECT_FALSE(parseRedisAddress("redis://:pw@h:1").isOk()) << "passwords are not supported";
  EXPECT_FALSE(parseRedisAddress("redis://h:0").isOk());
  EXPECT_FALSE(parseRedisAddress("redis://h:99999").isOk());
  EXPECT_FALSE(parseRedisAddress("redis://h:1/x").isOk());
  EXPECT_FALSE(parseRedisAddress("redis://:6379").isOk());
}

TEST(RedisAddressTest, SentinelUrlsNameTheSentinelsAndTheMaster) {
  auto s = parseRedisAddress("sentinel://10.0.0.1:26379,10.0.0.2/herald/3");
  ASSERT_TRUE(s.isOk()) << s.status().message();
  ASSERT_EQ(s->sentinels.size(), 2u);
  EXPECT_EQ(s->sentinels[0], std::make_pair(std::string("10.0.0.1"), 26379));
  EXPECT_EQ(s->sentinels[1], std::make_pair(std::string("10.0.0.2"), 26379)) << "default port";
  EXPECT_EQ(s->master_name, "herald");
  EXPECT_EQ(s->db, 3);
  EXPECT_FALSE(parseRedisAddress("sentinel://10.0.0.1:26379").isOk()) << "no master name";
  EXPECT_FALSE(parseRedisAddress("sentinel://10.0.0.1:26379/").isOk());
  EXPECT_FALSE(parseRedisAddress("sentinel://:1/m").isOk());
  EXPECT_FALSE(parseRedisAddress("sentinel://h:0/m").isOk());
  EXPECT_FALSE(parseRedisAddress("sentinel://h:1/m/x").isOk());
  // In a --redis list, a sentinel URL's own commas stay with it.
  EXPECT_EQ(
      splitRedisList("sentinel://a:1,b:2/m,redis://r:6379,sentinel://c/n/1"),
      (std::vector<std::string>{"sentinel://a:1,b:2/m", "redis://r:6379", "sentinel://c/n/1"}));
  EXPECT_EQ(splitRedisList("redis://a:1,,redis://b:2"),
            (std::vector<std::string>{"redis://a:1", "redis://b:2"}));
}

TEST(RedisStreamEngineTest, ChannelsSpreadEvenlyAndEveryReplicaAgrees) {
  Router router;
  const std::vector<std::string> urls = {"redis://r1:6379", "redis://r2:6379", "redis://r3:6379"};
  RedisStreamEngine one(instances(urls), router, nullptr);
  // Another replica, listing the same instances in another order: the same placement.
  RedisStreamEngine other(instances({urls[2], urls[0], urls[1]}), router, nullptr);
  std::map<std::string, int> per_instance;
  for (int i = 0; i < 3000; ++i) {
    const std::string channel = "feed:s" + std::to_string(i);
    const std::string where = urls[one.instanceFor(channel)];
    per_instance[where]++;
    const size_t o = other.instanceFor(channel);
    EXPECT_EQ(where, (std::vector<std::string>{urls[2], urls[0], urls[1]})[o]) << channel;
  }
  for (const auto& [url, count] : per_instance) {
    EXPECT_GT(count, 600) << url;
    EXPECT_LT(count, 1400) << url;
  }
}

TEST(RedisStreamEngineTest, AddingAnInstanceMovesAboutItsShareOfChannels) {
  Router router;
  RedisStreamEngine two(instances({"redis://r1:6379", "redis://r2:6379"}), router, nullptr);
  RedisStreamEngine three(instances({"redis://r1:6379", "redis://r2:6379", "redis://r3:6379"}),
                          router, nullptr);
  int moved = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string channel = "c" + std::to_string(i);
    const size_t before = two.instanceFor(channel);
    const size_t after = three.instanceFor(channel);
    if (after != before) {
      ++moved;
      EXPECT_EQ(after, 2u) << "a channel only moves to the new instance";
    }
  }
  EXPECT_GT(moved, 600);
  EXPECT_LT(moved, 1400);
}

}  // namespace
}  // namespace herald::control
