// A silent network cut between a herald-control replica and Redis (a route that drops
// everything: no FIN, no RST), staged with a freezable TCP proxy on loopback. The replica's
// subscription must notice within seconds (it pings an idle connection), not after TCP
// keepalive's ~30 s, and deliver again once the path is back.
#include "integration/redis_cluster_fixture.h"
#include "integration/support/tcp_proxy.h"

namespace herald::testing {
namespace {

TEST_F(RedisClusterTest, ASilentCutToRedisIsNoticedWithinSecondsAndDeliveryResumes) {
  startRedis(false);
  TcpProxy proxy(redis_->port());
  const size_t a = startReplica("redis://127.0.0.1:" + std::to_string(proxy.port()));
  Process& replica = *replicas_[a];
  ASSERT_TRUE(replica.waitForOutput("subscribed to publications on redis", 15s))
      << replica.output();
  startNode(replica_addresses_[a]);
  auto client = connect(0, "subscribe=feed:cut");
  ASSERT_TRUE(waitSubscribed("feed:cut", 1, 1));
  herald::v1::PublishResponse resp;
  ASSERT_TRUE(publish(a, "feed:cut", "{}", &resp).ok());
  ASSERT_TRUE(contiguous(readOffsets(*client, 1), 1, 1));

  const size_t mark = replica.output().size();
  proxy.freeze();
  // Idle 1 s, then a ping unanswered for 3 s: lost in about 4 s. The bound here is the
  // event's deadline, far under keepalive's ~30 s.
  EXPECT_TRUE(replica.waitForOutput("no answer to a ping", 10s, mark)) << replica.output();
  proxy.thaw();
  EXPECT_TRUE(replica.waitForOutput("subscription restored after a break", 20s, mark))
      << replica.output();
  // Publications flow again (the node resyncs what the break may have cost it).
  ASSERT_TRUE(eventually([&] { return publish(a, "feed:cut", "{}", &resp).ok(); }, 15s));
  ASSERT_TRUE(waitSubscribed("feed:cut", 1, 1));
  const auto offsets = readOffsets(*client, resp.offset());
  EXPECT_TRUE(contiguous(offsets, 2, resp.offset())) << "nothing lost across the cut";
}

}  // namespace
}  // namespace herald::testing
