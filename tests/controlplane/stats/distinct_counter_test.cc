#include "controlplane/stats/distinct_counter.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

namespace herald::control {
namespace {

double relativeError(uint64_t estimate, uint64_t truth) {
  return std::fabs(static_cast<double>(estimate) - static_cast<double>(truth)) /
         static_cast<double>(truth);
}

TEST(DistinctCounterTest, CountsDistinctKeysNotEvents) {
  DistinctCounter d;
  EXPECT_EQ(d.estimate(), 0u);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 100; ++i) {
      d.add("user-" + std::to_string(i));
    }
  }
  EXPECT_LT(relativeError(d.estimate(), 100), 0.05) << d.estimate();
}

TEST(DistinctCounterTest, StaysWithinAFewPercentAtScale) {
  for (uint64_t truth : {1000u, 50000u, 1000000u}) {
    DistinctCounter d;
    for (uint64_t i = 0; i < truth; ++i) {
      d.add("wallet:" + std::to_string(i));
    }
    // 3.25 % standard error: 10 % is beyond three of them.
    EXPECT_LT(relativeError(d.estimate(), truth), 0.10) << truth << " -> " << d.estimate();
  }
}

TEST(DistinctCounterTest, MergeIsTheUnion) {
  DistinctCounter a, b;
  for (int i = 0; i < 30000; ++i) {
    a.add("u" + std::to_string(i));
  }
  for (int i = 20000; i < 50000; ++i) {
    b.add("u" + std::to_string(i));
  }
  a.merge(b);
  EXPECT_LT(relativeError(a.estimate(), 50000), 0.10) << a.estimate();
  a.clear();
  EXPECT_EQ(a.estimate(), 0u);
}

TEST(DistinctCounterTest, RegistersSentByAnotherReplicaMerge) {
  DistinctCounter here, there;
  for (int i = 0; i < 1000; ++i) {
    here.add("a" + std::to_string(i));
    there.add("b" + std::to_string(i));
  }
  const std::string sent(reinterpret_cast<const char*>(there.registers().data()),
                         there.registers().size());
  here.mergeRegisters(sent);
  EXPECT_LT(relativeError(here.estimate(), 2000), 0.10) << here.estimate();
  const uint64_t before = here.estimate();
  here.mergeRegisters("too short");                                       // ignored
  here.mergeRegisters(std::string(DistinctCounter::kRegisters, '\xff'));  // ranks capped
  EXPECT_GE(here.estimate(), before);
  for (uint8_t r : here.registers()) {
    EXPECT_LE(r, 64 - DistinctCounter::kPrecision + 1);
  }
}

}  // namespace
}  // namespace herald::control
