#include "common/rate_limiter.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(TokenBucketTest, BurstThenSteadyRate) {
  TokenBucket bucket;
  int64_t now = 1000;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(bucket.take(now, 60, 10)) << i;
  }
  EXPECT_FALSE(bucket.take(now, 60, 10)) << "burst of 10 used up";
  now += 999;
  EXPECT_FALSE(bucket.take(now, 60, 10)) << "60/minute refills one per second";
  now += 1;
  EXPECT_TRUE(bucket.take(now, 60, 10));
  EXPECT_FALSE(bucket.take(now, 60, 10));
  now += 60000;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(bucket.take(now, 60, 10));
  }
  EXPECT_FALSE(bucket.take(now, 60, 10)) << "refill never exceeds the burst";
}

TEST(IpLimiterTest, ConnectionsPerSecondPerIp) {
  IpLimiter limiter;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.admitConnection("10.0.0.1", 5000, 3, 30));
  }
  EXPECT_FALSE(limiter.admitConnection("10.0.0.1", 5500, 3, 30));
  EXPECT_TRUE(limiter.admitConnection("10.0.0.2", 5500, 3, 30)) << "other IPs are unaffected";
  EXPECT_TRUE(limiter.admitConnection("10.0.0.1", 6000, 3, 30)) << "a new second";
}

TEST(IpLimiterTest, FailedAuthenticationsBlockForTheMinute) {
  IpLimiter limiter;
  EXPECT_FALSE(limiter.recordAuthFailure("ip", 1000, 3));
  EXPECT_FALSE(limiter.recordAuthFailure("ip", 2000, 3));
  EXPECT_TRUE(limiter.recordAuthFailure("ip", 3000, 3));
  EXPECT_TRUE(limiter.authBlocked("ip", 4000, 3));
  EXPECT_FALSE(limiter.admitConnection("ip", 4000, 100, 3));
  EXPECT_FALSE(limiter.authBlocked("ip", 61001, 3)) << "the block ends with its minute";
  EXPECT_TRUE(limiter.admitConnection("ip", 61001, 100, 3));
}

TEST(IpLimiterTest, IdleEntriesArePruned) {
  IpLimiter limiter;
  for (int i = 0; i < 1000; ++i) {
    limiter.admitConnection("ip" + std::to_string(i), 100000, 10, 30);
  }
  EXPECT_EQ(limiter.trackedIps(), 1000u);
  limiter.admitConnection("late", 100000 + 120000, 10, 30);
  EXPECT_EQ(limiter.trackedIps(), 1u);
}

}  // namespace
}  // namespace herald
