// ClusterStats as an operator reads it: two real nodes, real clients, and the activity the
// test caused showing up per namespace, per channel and by subscribers.
#include <map>

#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

class ClusterStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(2));
    grpc::ClientContext ctx;
    herald::v1::CreateNamespaceRequest req;
    req.mutable_namespace_()->set_name("prices");
    herald::v1::CreateNamespaceResponse resp;
    ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, req, &resp).ok());
    ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));
  }

  std::unique_ptr<WsClient> subscriber(size_t node, const std::string& channels) {
    auto ws = std::make_unique<WsClient>(cluster_.wsUrl(node, "subscribe=" + channels));
    EXPECT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    EXPECT_TRUE(ws->nextOfType("connected", 10s).has_value());
    return ws;
  }

  herald::v1::ClusterStatsResponse stats() {
    herald::v1::ClusterStatsResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(cluster_.api().ClusterStats(&ctx, herald::v1::ClusterStatsRequest(), &resp).ok());
    return resp;
  }

  static herald::v1::StatsWindow minute(const herald::v1::ClusterStatsResponse& r) {
    for (const auto& w : r.windows()) {
      if (w.seconds() == 60) {
        return w;
      }
    }
    return {};
  }

  Cluster cluster_;
};

TEST_F(ClusterStatsTest, DeliveriesPerNamespaceAndChannelAndTheBiggestChannels) {
  // prices:eur: two subscribers on node 0, one on node 1; news:a one on node 1.
  auto a = subscriber(0, "prices%3Aeur");
  auto b = subscriber(0, "prices%3Aeur");
  auto c = subscriber(1, "prices%3Aeur,news%3Aa");
  ASSERT_TRUE(cluster_.waitInterest("prices:eur", 2));
  ASSERT_TRUE(cluster_.waitInterest("news:a", 1));
  constexpr int kPrices = 5;
  constexpr int kNews = 2;
  for (int i = 0; i < kPrices; ++i) {
    cluster_.publish("prices:eur", "{}");
  }
  for (int i = 0; i < kNews; ++i) {
    cluster_.publish("news:a", "{}");
  }
  {
    grpc::ClientContext ctx;
    herald::v1::BroadcastRequest req;
    req.set_data("{}");
    herald::v1::BroadcastResponse resp;
    ASSERT_TRUE(cluster_.api().Broadcast(&ctx, req, &resp).ok());
  }
  // Every client read all it was sent: the nodes' counts are final once reported.
  for (auto* ws : {a.get(), b.get()}) {
    for (int i = 0; i < kPrices + 1; ++i) {
      ASSERT_TRUE(ws->nextOfType("message", 10s).has_value());
    }
  }
  for (int i = 0; i < kPrices + kNews + 1; ++i) {
    ASSERT_TRUE(c->nextOfType("message", 10s).has_value());
  }

  // Nodes report with their heartbeats: wait for the sums the test caused.
  const std::map<std::string, uint64_t> want_ns = {
      {"prices", 3 * kPrices}, {"(default)", kNews}, {"(all)", 3}};
  herald::v1::ClusterStatsResponse r;
  std::map<std::string, uint64_t> got_ns;
  const bool reported = eventually(
      [&] {
        r = stats();
        got_ns.clear();
        const herald::v1::StatsWindow w = minute(r);
        for (const auto& ns : w.namespaces()) {
          got_ns[ns.namespace_()] = ns.deliveries();
        }
        // Nodes find their biggest channels every 5 s: wait for both nodes' lists.
        return got_ns == want_ns && r.top_subscribed_channels_size() == 2 &&
               r.top_subscribed_channels(0).subscribers() == 3 &&
               r.top_subscribed_channels(1).subscribers() == 1;
      },
      15s);
  ASSERT_TRUE(reported) << r.DebugString();
  const auto w = minute(r);
  EXPECT_EQ(w.deliveries(), 3u * kPrices + kNews + 3);
  ASSERT_GE(w.top_channels_size(), 2);
  EXPECT_EQ(w.top_channels(0).channel(), "prices:eur");
  EXPECT_EQ(w.top_channels(0).publications(), static_cast<uint64_t>(kPrices));
  EXPECT_EQ(w.top_channels(0).deliveries(), 3u * kPrices);
  EXPECT_EQ(w.top_channels(1).channel(), "news:a");
  EXPECT_EQ(w.top_channels(1).deliveries(), static_cast<uint64_t>(kNews));
  for (const auto& ns : w.namespaces()) {
    if (ns.namespace_() == "prices") {
      EXPECT_EQ(ns.publications(), static_cast<uint64_t>(kPrices));
    }
  }
  // By subscribers, summed over both nodes.
  EXPECT_EQ(r.top_subscribed_channels(0).channel(), "prices:eur");
  EXPECT_EQ(r.top_subscribed_channels(0).subscribers(), 3u);
  EXPECT_EQ(r.top_subscribed_channels(0).nodes(), 2u);
  EXPECT_EQ(r.top_subscribed_channels(1).channel(), "news:a");
  EXPECT_EQ(r.top_subscribed_channels(1).subscribers(), 1u);

  // Subscribers leaving leave the list with the next heartbeats.
  a.reset();
  b.reset();
  c.reset();
  EXPECT_TRUE(eventually([&] { return stats().top_subscribed_channels_size() == 0; }, 15s))
      << stats().DebugString();
}

}  // namespace
}  // namespace herald::testing
