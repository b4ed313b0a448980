#include "cli/ctl/top_view.h"

#include <gtest/gtest.h>

namespace herald::ctl {
namespace {

TopSample sample(double at, uint64_t delivered, uint64_t published, uint64_t offset) {
  TopSample s;
  s.at_seconds = at;
  s.info.set_build("herald-control 0.1.0");
  s.info.set_engine("memory");
  s.stats.set_nodes(1);
  s.stats.set_healthy_nodes(1);
  s.stats.set_connections(3);
  s.stats.set_messages_out(delivered);
  s.stats.set_publications(published);
  auto* n = s.nodes.add_nodes();
  n->set_node_id("node-a");
  n->set_address("127.0.0.1:8080");
  n->set_health(herald::v1::NODE_HEALTH_HEALTHY);
  n->set_messages_out(delivered);
  for (int i = 0; i < 12; ++i) {
    auto* c = s.channels.add_channels();
    c->set_channel("ch" + std::to_string(i));
    c->set_subscribers(static_cast<uint64_t>(i));
    c->set_offset(i == 11 ? offset : 1);
  }
  return s;
}

TEST(TopViewTest, RatesAreCounterDifferencesOverTheInterval) {
  const TopSample before = sample(100.0, 1000, 10, 50);
  const TopSample after = sample(102.0, 1600, 30, 70);
  const std::string frame = renderTop(&before, after, "127.0.0.1:7070");
  EXPECT_NE(frame.find("deliveries/s 300.0"), std::string::npos) << frame;
  EXPECT_NE(frame.find("publications/s 10.0"), std::string::npos) << frame;
  EXPECT_NE(frame.find("node-a"), std::string::npos);
  EXPECT_NE(frame.find("300.0"), std::string::npos) << "the node's deliveries/s";
  // The busiest channel first, with its publications/s from its offset; 10 listed of 12.
  const size_t first = frame.find("ch11");
  ASSERT_NE(first, std::string::npos) << frame;
  EXPECT_LT(first, frame.find("ch10"));
  EXPECT_NE(frame.find("10.0", first), std::string::npos);
  EXPECT_EQ(frame.find("ch1 "), std::string::npos) << "only the top 10 by subscribers";
}

TEST(TopViewTest, TheBiggestChannelsBeyondTheListedPageAreShownToo) {
  TopSample s = sample(1.0, 1, 1, 1);
  auto* big = s.stats.add_top_subscribed_channels();
  big->set_channel("zz:beyond-the-page");
  big->set_subscribers(500);
  big->set_nodes(2);
  auto* listed = s.stats.add_top_subscribed_channels();
  listed->set_channel("ch11");
  listed->set_subscribers(11);
  const std::string frame = renderTop(nullptr, s, "c:1");
  const size_t first = frame.find("zz:beyond-the-page");
  ASSERT_NE(first, std::string::npos) << frame;
  EXPECT_LT(first, frame.find("ch11")) << "most subscribers first";
  const std::string row = frame.substr(first, frame.find('\n', first) - first);
  EXPECT_NE(row.find(" 500 "), std::string::npos) << "its subscribers on its row: " << row;
  EXPECT_EQ(frame.find("ch11", frame.find("ch11") + 1), std::string::npos)
      << "a channel on the page and in the stats is listed once";
}

TEST(TopViewTest, WithoutAnEarlierSampleRatesAreDashes) {
  const std::string frame = renderTop(nullptr, sample(1.0, 5, 5, 5), "c:1");
  EXPECT_NE(frame.find("deliveries/s -"), std::string::npos) << frame;
}

TEST(TopViewTest, ACounterThatWentBackIsNotANegativeRate) {
  const TopSample before = sample(1.0, 1000, 10, 5);
  const TopSample after = sample(2.0, 10, 1, 5);  // a restarted control plane
  const std::string frame = renderTop(&before, after, "c:1");
  EXPECT_NE(frame.find("deliveries/s -"), std::string::npos) << frame;
  EXPECT_EQ(frame.find("-990"), std::string::npos);
}

TEST(TopViewTest, WhatTheServerSaysCannotDriveTheTerminal) {
  TopSample s = sample(1.0, 1, 1, 1);
  s.info.set_build("evil\x1b[2J");
  s.nodes.mutable_nodes(0)->set_node_id("node\x1b]0;title\x07");
  const std::string frame = renderTop(nullptr, s, "c:1");
  EXPECT_EQ(frame.find('\x1b'), std::string::npos) << frame;
  EXPECT_EQ(frame.find('\x07'), std::string::npos);
}

}  // namespace
}  // namespace herald::ctl
