// What herald-control keeps of a node's heartbeat: deltas only after the first report, and
// the node's list of its biggest channels checked rather than trusted.
#include "controlplane/node_session.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

TEST(NodeSessionTest, ReportedChannelsAreCheckedDedupedAndCapped) {
  herald::v1::Hello hello;
  hello.set_node_id("n1");
  NodeSession session(nullptr, nullptr, hello, 100);  // no stream: the writer never starts
  herald::v1::NodeStats stats;
  stats.set_messages_out(10);
  auto add = [&stats](const std::string& channel, uint64_t subscribers) {
    auto* c = stats.add_top_channels();
    c->set_channel(channel);
    c->set_subscribers(subscribers);
  };
  add("prices:eur", 50);
  add("prices:eur", 50);     // listed twice: counted once
  add("not a channel", 40);  // refused
  for (int i = 0; i < 30; ++i) {
    add("c" + std::to_string(i), 10);
  }
  const auto first = session.recordStats(stats);
  EXPECT_FALSE(first.follows_previous) << "a relinked node's totals are not new";
  EXPECT_EQ(first.delivered, 0u);
  const auto info = session.info();
  ASSERT_EQ(info.top_channels_size(), NodeSession::kMaxTopChannels);
  EXPECT_EQ(info.top_channels(0).channel(), "prices:eur");
  EXPECT_EQ(info.top_channels(1).channel(), "c0");
  for (const auto& c : info.top_channels()) {
    EXPECT_NE(c.channel(), "not a channel");
  }

  stats.set_messages_out(25);
  stats.clear_top_channels();
  const auto second = session.recordStats(stats);
  EXPECT_TRUE(second.follows_previous);
  EXPECT_EQ(second.delivered, 15u);
  EXPECT_EQ(session.info().top_channels_size(), 0) << "a new report replaces the list";
}

}  // namespace
}  // namespace herald::control
