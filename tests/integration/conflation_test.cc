// Conflation on real binaries (docs/protocol.md "Conflation"): a namespace's conflate_ms gives
// each subscriber at most one publication per interval, the latest, and every frame says what
// it stands for (`prev`, `conflated`), so that all publications are accounted for; recovery
// sends only the latest; bad intervals get clear errors.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

using nlohmann::json;

constexpr int kPublications = 300;

class ConflationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    herald::v1::Namespace ns;
    ns.set_name("px");
    ns.set_conflate_ms(200);
    ns.set_history_size(1000);
    ns.set_history_ttl_seconds(600);
    ASSERT_TRUE(cluster_.createNamespace(ns));
  }

  std::unique_ptr<WsClient> connect() { return connectGreeted(cluster_.wsUrl(0)); }

  // One PublishBatch of kPublications prices: they reach the node within one interval.
  herald::v1::PublishBatchResponse publishBurst() {
    herald::v1::PublishBatchRequest req;
    for (int i = 1; i <= kPublications; ++i) {
      auto* p = req.add_publications();
      p->set_channel("px:btc");
      p->set_data(json{{"price", 64000 + i}}.dump());
    }
    grpc::ClientContext ctx;
    herald::v1::PublishBatchResponse resp;
    EXPECT_TRUE(cluster_.api().PublishBatch(&ctx, req, &resp).ok());
    return resp;
  }

  // Frames until the one with `last`, which must come.
  static std::vector<json> readUntil(WsClient& ws, uint64_t last) {
    std::vector<json> frames;
    for (;;) {
      auto m = ws.nextOfType("message", 10s);
      EXPECT_TRUE(m.has_value()) << "no frame with offset " << last << " after "
                                 << (frames.empty() ? json() : frames.back());
      if (!m) {
        return frames;
      }
      frames.push_back(*m);
      if ((*m)["offset"] == last) {
        return frames;
      }
    }
  }

  Cluster cluster_;
};

TEST_F(ConflationTest, ATickerGetsTheLatestAndEveryPublicationIsAccountedFor) {
  auto phone = connect();
  auto asks_less = connect();
  phone->send(R"({"type":"subscribe","id":1,"channels":["px:btc"]})");
  ASSERT_EQ(phone->nextAnswer(10s)["type"], "reply");
  // Asking for less than the namespace's interval gets the namespace's.
  asks_less->send(R"({"type":"subscribe","id":1,"channels":["px:btc"],"conflate_ms":10})");
  ASSERT_EQ(asks_less->nextAnswer(10s)["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("px:btc", 1));
  const auto burst = publishBurst();
  ASSERT_EQ(burst.results_size(), kPublications);

  for (WsClient* ws : {phone.get(), asks_less.get()}) {
    const std::vector<json> frames = readUntil(*ws, kPublications);
    ASSERT_FALSE(frames.empty());
    EXPECT_LT(frames.size(), 10u) << "300 publications in one burst come as a few frames";
    uint64_t last = 0;
    uint64_t accounted = 0;
    for (const json& f : frames) {
      EXPECT_EQ(f["prev"], last) << "each frame follows the one before: " << f;
      EXPECT_GT(f["offset"].get<uint64_t>(), last);
      accounted += 1 + f["conflated"].get<uint64_t>();
      EXPECT_EQ(f["data"]["price"], 64000 + f["offset"].get<int>()) << "its own data";
      last = f["offset"].get<uint64_t>();
    }
    EXPECT_EQ(accounted, static_cast<uint64_t>(kPublications))
        << "the frames stand for every publication";
    EXPECT_EQ(frames.front()["offset"], 1) << "the first of a quiet interval goes at once";
  }
}

TEST_F(ConflationTest, RecoverySendsOnlyTheLatestAfterThePosition) {
  const auto burst = publishBurst();
  ASSERT_EQ(burst.results_size(), kPublications);
  auto late = connect();
  late->send(json{{"type", "subscribe"},
                  {"id", 1},
                  {"channels", {"px:btc"}},
                  {"since", {{"px:btc", {{"offset", 10}, {"epoch", burst.results(0).epoch()}}}}}}
                 .dump());
  ASSERT_EQ(late->nextAnswer(10s)["type"], "reply");
  auto m = late->next(10s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)["type"], "message") << *m;
  EXPECT_EQ((*m)["offset"], kPublications);
  EXPECT_EQ((*m)["prev"], 10);
  EXPECT_EQ((*m)["conflated"], kPublications - 11);
  auto recovery = late->next(10s);
  ASSERT_TRUE(recovery.has_value());
  EXPECT_EQ((*recovery)["type"], "recovery");
  EXPECT_EQ((*recovery)["recovered"], true);
  EXPECT_EQ((*recovery)["missed"], 1);
  EXPECT_EQ((*recovery)["offset"], kPublications);
}

TEST_F(ConflationTest, BadIntervalsAndAnotherShapeForAHeldChannelAreRefused) {
  auto ws = connect();
  ws->send(R"({"type":"subscribe","id":2,"channels":["px:btc"],"conflate_ms":600000})");
  json error = ws->nextAnswer(10s);
  EXPECT_EQ(error["code"], "bad_request");
  EXPECT_EQ(error["message"], "'conflate_ms' must be an integer from 0 to 60000");
  ws->send(R"({"type":"subscribe","id":3,"channels":["px:btc"],"conflate_ms":500})");
  ASSERT_EQ(ws->nextAnswer(10s)["type"], "reply");
  ws->send(R"({"type":"subscribe","id":4,"channels":["px:btc"],"conflate_ms":1000})");
  error = ws->nextAnswer(10s);
  EXPECT_EQ(error["code"], "bad_request");
  EXPECT_EQ(error["message"],
            "already subscribed to 'px:btc' with another filter or conflate_ms: unsubscribe it "
            "first");
  ws->send(R"({"type":"subscribe","id":5,"channels":["px:btc"],"conflate_ms":500})");
  EXPECT_EQ(ws->nextAnswer(10s)["type"], "reply") << "the same shape again is fine";

  grpc::ClientContext ctx;
  herald::v1::UpdateNamespaceRequest req;
  req.mutable_namespace_()->set_name("px");
  req.mutable_namespace_()->set_conflate_ms(60001);
  herald::v1::UpdateNamespaceResponse resp;
  const grpc::Status s = cluster_.api().UpdateNamespace(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "conflate_ms above 60000 (one minute)");
}

}  // namespace
}  // namespace herald::testing
