// Node as its control plane sees it: a real Node (two shards, loopback) linked to an
// in-process fake NodeLink service. What it acks, refuses, reports and answers.
#include "dataplane/node.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dataplane/link/fake_control_plane.h"
#include "dataplane/node_settings.h"

namespace herald::node {
namespace {

using namespace std::chrono_literals;

herald::v1::ConfigSnapshot snapshot(uint64_t version) {
  herald::v1::ConfigSnapshot s;
  s.set_version(version);
  s.set_nonce("n" + std::to_string(version));
  s.add_namespaces()->set_name("news");
  *s.mutable_limits() = defaultNodeSettings()->limits;
  return s;
}

class NodeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (node_) {
      node_->shutdown(100ms);
    }
  }

  void start(const herald::v1::ConfigSnapshot& first) {
    control_.setSnapshot(first);
    NodeConfig config;
    config.listen = "127.0.0.1:0";
    config.control = server_.address();
    config.node_id = "node-test";
    config.shards = 2;
    config.reconnect_max_ms = 200;
    node_ = std::make_unique<Node>(config);
    address_ = node_->start();
  }

  uint64_t appliedVersion() const {
    return nlohmann::json::parse(node_->statsJson())["config_version"].get<uint64_t>();
  }

  template <typename Match>
  std::optional<FakeControlPlane::Received> next(Match match) {
    return control_.waitFor(match, &seen_, 10s);
  }

  FakeControlPlaneServer server_;
  FakeControlPlane& control_ = server_.service;
  std::unique_ptr<Node> node_;
  std::string address_;
  size_t seen_ = 0;
};

TEST_F(NodeTest, HelloNamesTheBoundAddressAndTheFirstConfigIsAcked) {
  start(snapshot(5));
  auto hello = next([](const auto& m) { return m.has_hello(); });
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->message.hello().node_id(), "node-test");
  EXPECT_EQ(hello->message.hello().listen_address(), address_);
  auto ack = next([](const auto& m) { return m.has_ack(); });
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->message.ack().version(), 5u);
  EXPECT_EQ(ack->message.ack().nonce(), "n5");
  EXPECT_EQ(appliedVersion(), 5u);
}

TEST_F(NodeTest, AnInvalidSnapshotIsNackedAndTheLastGoodOneStays) {
  start(snapshot(5));
  ASSERT_TRUE(next([](const auto& m) { return m.has_ack(); }));
  herald::v1::ControlMessage bad;
  *bad.mutable_config() = snapshot(6);
  bad.mutable_config()->add_namespaces()->set_name("news");  // twice
  control_.send(bad);
  auto nack = next([](const auto& m) { return m.has_nack(); });
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->message.nack().version(), 6u);
  EXPECT_NE(nack->message.nack().error().find("appears twice"), std::string::npos);
  EXPECT_EQ(appliedVersion(), 5u);
}

TEST_F(NodeTest, AnOlderSnapshotInTheSameSessionIsAckedButNotApplied) {
  start(snapshot(5));
  ASSERT_TRUE(next([](const auto& m) { return m.has_ack(); }));
  for (uint64_t version : {9u, 7u}) {
    herald::v1::ControlMessage m;
    *m.mutable_config() = snapshot(version);
    control_.send(m);
  }
  auto late = next([](const auto& m) { return m.has_ack() && m.ack().version() == 7; });
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(appliedVersion(), 9u);
}

TEST_F(NodeTest, APresenceQueryGetsOneReplyGatheredFromEveryShard) {
  start(snapshot(1));
  ASSERT_TRUE(next([](const auto& m) { return m.has_ack(); }));
  herald::v1::ControlMessage query;
  query.mutable_presence_query()->set_request_id(42);
  query.mutable_presence_query()->set_channel("news:a");
  query.mutable_presence_query()->set_max_entries(10);
  control_.send(query);
  auto reply = next([](const auto& m) { return m.has_presence(); });
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->message.presence().request_id(), 42u);
  EXPECT_EQ(reply->message.presence().connections(), 0u);
  EXPECT_FALSE(reply->message.presence().truncated());
}

}  // namespace
}  // namespace herald::node
