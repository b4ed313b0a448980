// Smoothing on real binaries (docs/protocol.md "Smoothing"): a namespace's smooth_ms spreads a
// burst over the interval instead of sending it at once; every publication arrives exactly
// once, in order, `prev` chained; a client that recovers with `since` while the node is still
// spreading gets each one once; bad settings get clear errors.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kBurst = 30;
constexpr int kSmoothMs = 1500;

class SmoothingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    herald::v1::Namespace ns;
    ns.set_name("tx");
    ns.set_smooth_ms(kSmoothMs);
    ns.set_history_size(1000);
    ns.set_history_ttl_seconds(600);
    ASSERT_TRUE(cluster_.createNamespace(ns));
  }

  std::unique_ptr<WsClient> connect() { return connectGreeted(cluster_.wsUrl(0)); }

  // One PublishBatch: the burst reaches the node at once.
  void publishBurst() {
    herald::v1::PublishBatchRequest req;
    for (int i = 1; i <= kBurst; ++i) {
      auto* p = req.add_publications();
      p->set_channel("tx:all");
      p->set_data(json{{"n", i}}.dump());
    }
    grpc::ClientContext ctx;
    herald::v1::PublishBatchResponse resp;
    ASSERT_TRUE(cluster_.api().PublishBatch(&ctx, req, &resp).ok());
  }

  Cluster cluster_;
};

TEST_F(SmoothingTest, ABurstArrivesSpreadOutWholeAndInOrder) {
  auto ws = connect();
  ws->send(R"({"type":"subscribe","id":1,"channels":["tx:all"]})");
  ASSERT_EQ(ws->nextAnswer(10s)["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("tx:all", 1));
  publishBurst();
  std::vector<Clock::time_point> arrived;
  for (int i = 1; i <= kBurst; ++i) {
    auto m = ws->nextOfType("message", 10s);
    ASSERT_TRUE(m.has_value()) << "publication " << i << " did not come";
    arrived.push_back(Clock::now());
    EXPECT_EQ((*m)["offset"], i) << "in order, none skipped";
    EXPECT_EQ((*m)["prev"], i - 1) << "prev chains every one";
    EXPECT_EQ((*m)["data"]["n"], i);
  }
  // Not at once: a burst of 30 sent whole would arrive within a few milliseconds. Spread
  // evenly, the last comes near the end of the interval (checked loosely: the machine is
  // shared).
  const auto spread =
      std::chrono::duration_cast<std::chrono::milliseconds>(arrived.back() - arrived.front());
  EXPECT_GE(spread.count(), kSmoothMs / 2) << "the burst was not spread";
  EXPECT_FALSE(ws->nextOfType("message", 300ms).has_value()) << "nothing twice";
}

TEST_F(SmoothingTest, ARecoveryDuringTheSpreadGetsEachPublicationOnce) {
  auto watcher = connect();
  watcher->send(R"({"type":"subscribe","id":1,"channels":["tx:all"]})");
  ASSERT_EQ(watcher->nextAnswer(10s)["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("tx:all", 1));
  publishBurst();
  // The first arrived: the rest are being spread when a second client recovers from 0.
  auto first = watcher->nextOfType("message", 10s);
  ASSERT_TRUE(first.has_value());
  auto late = connect();
  late->send(json{{"type", "subscribe"},
                  {"id", 2},
                  {"channels", {"tx:all"}},
                  {"since", {{"tx:all", {{"offset", 0}, {"epoch", (*first)["epoch"]}}}}}}
                 .dump());
  std::vector<uint64_t> offsets;
  bool recovered = false;
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline && (offsets.size() < kBurst || !recovered)) {
    auto f = late->next(2s);
    if (!f) {
      continue;
    }
    if ((*f)["type"] == "message") {
      offsets.push_back((*f)["offset"].get<uint64_t>());
    } else if ((*f)["type"] == "recovery") {
      EXPECT_EQ((*f)["recovered"], true) << *f;
      recovered = true;
    }
  }
  EXPECT_TRUE(recovered);
  // And nothing more once the spread is over.
  while (auto f = late->nextOfType("message", 2s)) {
    offsets.push_back((*f)["offset"].get<uint64_t>());
  }
  ASSERT_EQ(offsets.size(), static_cast<size_t>(kBurst)) << "each publication exactly once";
  for (int i = 0; i < kBurst; ++i) {
    EXPECT_EQ(offsets[i], static_cast<uint64_t>(i + 1));
  }
}

TEST_F(SmoothingTest, SmoothingAndConflationTogetherAreRefused) {
  herald::v1::Namespace ns;
  ns.set_name("both");
  ns.set_smooth_ms(100);
  ns.set_conflate_ms(100);
  grpc::ClientContext ctx;
  herald::v1::CreateNamespaceRequest req;
  *req.mutable_namespace_() = ns;
  herald::v1::CreateNamespaceResponse resp;
  const grpc::Status st = cluster_.api().CreateNamespace(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("choose one"), std::string::npos) << st.error_message();
  ns.set_conflate_ms(0);
  ns.set_smooth_ms(60001);
  grpc::ClientContext ctx2;
  *req.mutable_namespace_() = ns;
  const grpc::Status too_long = cluster_.api().CreateNamespace(&ctx2, req, &resp);
  EXPECT_EQ(too_long.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_long.error_message().find("smooth_ms above 60000"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
