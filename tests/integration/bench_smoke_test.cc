// A bounded herald-bench run against a real control plane and node: the instrument itself
// works (connects, publishes, counts, reports) and sees no loss and no error. Not speed.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"

namespace herald::testing {
namespace {

using nlohmann::json;

TEST(BenchSmokeTest, SmallRunDeliversEverythingInOrderAndReportsIt) {
  Cluster cluster;
  cluster.startControl();
  cluster.startNode();
  ASSERT_TRUE(cluster.waitHealthyNodes(1));
  constexpr int kConnections = 50;
  auto run =
      runCommand(benchBinary(), {"--url",         cluster.wsUrl(0, "subscribe=bench:{i},bench:hot"),
                                 "--control",     cluster.controlAddress(),
                                 "--api-key",     kTestAdminKey,
                                 "--connections", std::to_string(kConnections),
                                 "--channel",     "bench:hot",
                                 "--rate",        "40",
                                 "--duration",    "2",
                                 "--payload",     "300",
                                 "--server-pid",  std::to_string(cluster.node(0).pid()),
                                 "--json",        "--quiet"},
                 60s);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(run.out);
  EXPECT_EQ(r["connections"]["established"], kConnections) << r.dump(2);
  EXPECT_EQ(r["connections"]["failed"], 0);
  EXPECT_EQ(r["connections"]["closed_during_run"], 0);
  const uint64_t published = r["publishing"]["published"];
  EXPECT_GT(published, 0u);
  EXPECT_EQ(r["publishing"]["errors"], 0);
  EXPECT_EQ(r["deliveries"]["total"], published * kConnections) << r.dump(2);
  EXPECT_EQ(r["deliveries"]["per_client_min"], published);
  EXPECT_EQ(r["deliveries"]["gaps"], 0);
  EXPECT_EQ(r["deliveries"]["out_of_order_or_duplicate"], 0);
  EXPECT_EQ(r["deliveries"]["missing_at_end"], 0);
  EXPECT_GT(r["latency_us"]["max"].get<uint64_t>(), 0u);
  EXPECT_GE(r["latency_us"]["p99"].get<uint64_t>(), r["latency_us"]["p50"].get<uint64_t>());
  EXPECT_GT(r["server"]["rss_kib"].get<uint64_t>(), 0u);
  EXPECT_EQ(r["first_error"], "");
}

TEST(BenchSmokeTest, SignedTokensAreAcceptedByTheNode) {
  Cluster cluster;
  cluster.startControl();
  cluster.startNode();
  ASSERT_TRUE(cluster.waitHealthyNodes(1));
  // A bad signature would close each connection with 4001 right after the upgrade.
  auto run = runCommand(benchBinary(), {"--url",         cluster.wsUrl(0, "subscribe=bench:jwt"),
                                        "--control",     cluster.controlAddress(),
                                        "--api-key",     kTestAdminKey,
                                        "--connections", "20",
                                        "--jwt-secret",  kTestJwtSecret,
                                        "--jwt-kid",     "test",
                                        "--channel",     "bench:jwt",
                                        "--rate",        "20",
                                        "--duration",    "1",
                                        "--json",        "--quiet"},
                        60s);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(run.out);
  EXPECT_EQ(r["connections"]["established"], 20) << r.dump(2);
  EXPECT_EQ(r["connections"]["closed_during_run"], 0) << r.dump(2);
  EXPECT_EQ(r["deliveries"]["total"], r["publishing"]["published"].get<uint64_t>() * 20);
}

TEST(BenchSmokeTest, ClearUsageErrors) {
  auto bad = runCommand(benchBinary(), {"--connections", "many"}, 30s);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--connections needs a non-negative whole number"), std::string::npos);
  auto url = runCommand(benchBinary(), {"--url", "http://x:1/"}, 30s);
  EXPECT_EQ(url.exit_code, 2);
  EXPECT_NE(url.err.find("ws://"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
