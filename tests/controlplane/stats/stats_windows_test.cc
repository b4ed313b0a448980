#include "controlplane/stats/stats_windows.h"

#include <string>

#include <gtest/gtest.h>

namespace herald::control {
namespace {

constexpr int64_t kStart = 1'796'490'000;

const herald::v1::StatsWindow& window(const herald::v1::ClusterStatsResponse& r, uint32_t s) {
  for (const auto& w : r.windows()) {
    if (w.seconds() == s) {
      return w;
    }
  }
  static const herald::v1::StatsWindow kNone;
  ADD_FAILURE() << "no window of " << s << " s";
  return kNone;
}

TEST(StatsWindowsTest, CountsPublicationsDeliveriesUsersAndTheBusiestChannels) {
  StatsWindows stats(kStart);
  const int64_t now = kStart + 7200;  // two hours up: the day is not complete
  for (int i = 0; i < 30; ++i) {
    stats.recordPublication("prices", "prices:eur", "", now - 20);
  }
  for (int i = 0; i < 10; ++i) {
    stats.recordPublication("(default)", "news", "alice", now - 20);
  }
  stats.recordPublication("prices", "prices:usd", "bob", now - 1800);  // half an hour ago
  stats.recordDeliveries({400, {{"prices", 390}, {"(default)", 10}}, {{"prices:eur", 390}}},
                         now - 5);
  stats.recordActiveUser("carol", now - 3);

  herald::v1::ClusterStatsResponse r;
  stats.fill(now, &r);
  ASSERT_EQ(r.windows_size(), 4);
  const auto& minute = window(r, 60);
  EXPECT_TRUE(minute.complete());
  EXPECT_EQ(minute.publications(), 40u);
  EXPECT_EQ(minute.deliveries(), 400u);
  EXPECT_EQ(minute.active_users(), 2u) << "alice published, carol is connected";
  ASSERT_EQ(minute.namespaces_size(), 2);
  EXPECT_EQ(minute.namespaces(0).namespace_(), "prices") << "busiest first";
  EXPECT_EQ(minute.namespaces(0).publications(), 30u);
  EXPECT_EQ(minute.namespaces(0).deliveries(), 390u);
  EXPECT_EQ(minute.namespaces(1).deliveries(), 10u);
  ASSERT_GE(minute.top_channels_size(), 2);
  EXPECT_EQ(minute.top_channels(0).channel(), "prices:eur");
  EXPECT_EQ(minute.top_channels(0).publications(), 30u);
  EXPECT_EQ(minute.top_channels(0).deliveries(), 390u);
  EXPECT_EQ(minute.top_channels(1).deliveries(), 0u) << "news: no node reported it";

  const auto& hour = window(r, 3600);
  EXPECT_EQ(hour.publications(), 41u);
  EXPECT_EQ(hour.active_users(), 3u);
  const auto& day = window(r, 86400);
  EXPECT_FALSE(day.complete()) << "up two hours: a day would be a guess";
  EXPECT_TRUE(window(r, 30).complete());
}

TEST(StatsWindowsTest, OldActivityLeavesTheShortWindows) {
  StatsWindows stats(kStart);
  stats.recordPublication("(default)", "a", "u1", kStart + 10);
  herald::v1::ClusterStatsResponse r;
  stats.fill(kStart + 10 + 3 * 60, &r);
  EXPECT_EQ(window(r, 60).publications(), 0u);
  EXPECT_EQ(window(r, 60).active_users(), 0u);
  EXPECT_EQ(window(r, 60).top_channels_size(), 0);
  EXPECT_EQ(window(r, 3600).publications(), 1u);
  EXPECT_EQ(window(r, 3600).top_channels(0).channel(), "a");
}

TEST(StatsWindowsTest, InventedNamespacesAndChannelsStayBounded) {
  StatsWindows stats(kStart);
  for (size_t i = 0; i < StatsWindows::kMaxNamespaces + 100; ++i) {
    stats.recordPublication("ns" + std::to_string(i), "ch" + std::to_string(i), "", kStart + 5);
  }
  herald::v1::ClusterStatsResponse r;
  stats.fill(kStart + 5, &r);
  const auto& w = window(r, 30);
  EXPECT_EQ(static_cast<size_t>(w.namespaces_size()), StatsWindows::kMaxNamespaces + 1);
  EXPECT_EQ(w.namespaces(0).namespace_(), "(other)");
  EXPECT_EQ(w.namespaces(0).publications(), 100u);
  EXPECT_LE(static_cast<size_t>(w.top_channels_size()), StatsWindows::kTopChannels);
}

// With --engine redis one replica may accept a channel's publications while nodes on another
// deliver them: each announces both, and the merge puts them together.
TEST(StatsWindowsTest, DeliveriesMeetTheirPublicationsAcrossReplicas) {
  StatsWindows accepting(kStart);
  StatsWindows delivering(kStart);
  const int64_t now = kStart + 100;
  for (int i = 0; i < 3; ++i) {
    accepting.recordPublication("prices", "prices:eur", "", now);
  }
  // 40 channels with publications on the delivering replica push prices:eur (none there) out
  // of the 32 it announces by publications; it must still announce it among its most delivered.
  for (int c = 0; c < 40; ++c) {
    delivering.recordPublication("(default)", "other" + std::to_string(c), "", now);
  }
  delivering.recordDeliveries({30, {{"prices", 30}}, {{"prices:eur", 30}}}, now);
  herald::v1::ReplicaInfo a;
  herald::v1::ReplicaInfo b;
  accepting.announce(now, &a);
  delivering.announce(now, &b);
  herald::v1::ClusterStatsResponse r;
  StatsWindows::merge({&a, &b}, &r);
  const auto& w = window(r, 60);
  EXPECT_EQ(w.publications(), 43u);
  EXPECT_EQ(w.deliveries(), 30u);
  ASSERT_GE(w.top_channels_size(), 1);
  EXPECT_EQ(w.top_channels(0).channel(), "prices:eur");
  EXPECT_EQ(w.top_channels(0).publications(), 3u);
  EXPECT_EQ(w.top_channels(0).deliveries(), 30u) << "counted on the other replica";
  bool found = false;
  for (const auto& ns : w.namespaces()) {
    if (ns.namespace_() == "prices") {
      EXPECT_EQ(ns.publications(), 3u);
      EXPECT_EQ(ns.deliveries(), 30u);
      found = true;
    }
  }
  EXPECT_TRUE(found) << w.DebugString();
  // A replica's announcement lists more than the top 10, so the merge can rank them.
  const auto& announced = b.windows(1);
  bool announced_eur = false;
  for (const auto& c : announced.top_channels()) {
    announced_eur = announced_eur || (c.channel() == "prices:eur" && c.deliveries() == 30);
  }
  EXPECT_TRUE(announced_eur) << announced.DebugString();
}

}  // namespace
}  // namespace herald::control
