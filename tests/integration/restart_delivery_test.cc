// herald-control restarts (memory engine: history and offsets start a new epoch) while a
// node and its clients stay up: what the new process publishes before the node re-links must
// still reach those clients, in order, once.
#include <csignal>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

using nlohmann::json;

TEST(RestartDeliveryTest, PublicationsMadeBeforeTheNodeRelinksReachClientsThatStayed) {
  Cluster cluster;
  cluster.startControl();
  cluster.startNode();
  ASSERT_TRUE(cluster.waitHealthyNodes(1));
  {
    grpc::ClientContext ctx;
    herald::v1::CreateNamespaceRequest create;
    create.mutable_namespace_()->set_name("feed");
    create.mutable_namespace_()->set_history_size(1000);
    herald::v1::CreateNamespaceResponse created;
    ASSERT_TRUE(cluster.api().CreateNamespace(&ctx, create, &created).ok());
    ASSERT_TRUE(cluster.waitAckedVersion(created.config_version()));
  }
  WsClient client(cluster.wsUrl(0, "subscribe=feed:r"));
  ASSERT_TRUE(client.waitOpen(10s));
  ASSERT_TRUE(client.nextOfType("connected", 10s));
  ASSERT_TRUE(cluster.waitInterest("feed:r", 1));
  std::string old_epoch;
  for (int i = 1; i <= 5; ++i) {
    cluster.publish("feed:r", "{\"before\":" + std::to_string(i) + "}");
    auto frame = client.nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value());
    ASSERT_EQ((*frame)["offset"], i);
    old_epoch = (*frame)["epoch"];
  }

  // The node is held still so that it cannot re-link before the publications below: the
  // window that a 2-4 s outage opened in production, made certain.
  cluster.node(0).signal(SIGSTOP);
  cluster.stopControl(SIGKILL);
  cluster.startControl();
  constexpr int kAfter = 50;
  herald::v1::PublishBatchRequest batch;
  for (int i = 1; i <= kAfter; ++i) {
    auto* p = batch.add_publications();
    p->set_channel("feed:r");
    p->set_data("{\"after\":" + std::to_string(i) + "}");
  }
  grpc::ClientContext ctx;
  herald::v1::PublishBatchResponse published;
  ASSERT_TRUE(cluster.api().PublishBatch(&ctx, batch, &published).ok());
  ASSERT_EQ(published.results(0).offset(), 1u) << "a new epoch starts at 1";
  const std::string new_epoch = published.results(0).epoch();
  ASSERT_NE(new_epoch, old_epoch);
  cluster.node(0).signal(SIGCONT);
  ASSERT_TRUE(cluster.waitHealthyNodes(1, 30s));

  for (int i = 1; i <= kAfter; ++i) {
    auto frame = client.nextOfType("message", 20s);
    ASSERT_TRUE(frame.has_value()) << "stopped before offset " << i << " of the new epoch";
    EXPECT_EQ((*frame)["epoch"], new_epoch);
    ASSERT_EQ((*frame)["offset"], i) << "lost, repeated or out of order: " << *frame;
  }
  // And live delivery continues after them.
  auto live = cluster.publish("feed:r", "{\"live\":true}");
  auto frame = client.nextOfType("message", 10s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ((*frame)["offset"], live.offset());
  EXPECT_EQ(live.offset(), static_cast<uint64_t>(kAfter + 1));
}

}  // namespace
}  // namespace herald::testing
