#include "controlplane/stats/rate_window.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

constexpr int64_t kT = 1'796'490'000;  // a Unix time in seconds, on a minute boundary

TEST(RateWindowTest, ShortWindowsAreExactToTheSecond) {
  RateWindow w;
  w.add(kT, 5);
  w.add(kT + 10, 3);
  w.add(kT + 29, 1);
  EXPECT_EQ(w.sum(kT + 29, 30), 9u);
  EXPECT_EQ(w.sum(kT + 30, 30), 4u) << "the first second left the window";
  EXPECT_EQ(w.sum(kT + 59, 60), 9u);
  EXPECT_EQ(w.sum(kT + 60, 60), 4u);
}

TEST(RateWindowTest, AQuietSpellReadsAsZeroWithoutClearing) {
  RateWindow w;
  w.add(kT, 7);
  EXPECT_EQ(w.sum(kT + 60, 60), 0u) << "the bucket of kT is reused by kT+60's second";
  EXPECT_EQ(w.sum(kT + 3600 * 24 + 5, 30), 0u);
  w.add(kT + 120, 2);  // same second bucket as kT, a later second
  EXPECT_EQ(w.sum(kT + 120, 30), 2u);
}

TEST(RateWindowTest, LongWindowsCountWholeMinutes) {
  RateWindow w;
  for (int64_t m = 0; m < 120; ++m) {
    w.add(kT + m * 60 + 30, 1);  // one event each minute for two hours
  }
  const int64_t now = kT + 119 * 60 + 45;
  EXPECT_EQ(w.sum(now, 3600), 60u);
  EXPECT_EQ(w.sum(now, 86400), 120u);
  EXPECT_EQ(w.sum(now + 3600, 3600), 0u) << "an hour later, nothing";
}

TEST(RateWindowTest, ADayIsTheLongestWindow) {
  RateWindow w;
  w.add(kT, 1);
  w.add(kT + 86400 - 60, 1);
  EXPECT_EQ(w.sum(kT + 86400 - 60, 86400), 2u);
  EXPECT_EQ(w.sum(kT + 86400, 86400), 1u) << "the first minute left the day";
  EXPECT_EQ(w.sum(kT + 86400, 7 * 86400), 1u) << "longer is capped at a day";
}

}  // namespace
}  // namespace herald::control
