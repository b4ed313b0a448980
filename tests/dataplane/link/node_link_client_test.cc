// NodeLinkClient against an in-process NodeLink service on loopback, with a mock handler:
// the session's order (Hello, config, Ack), what reaches the node, and a relink.
#include "dataplane/link/node_link_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "dataplane/link/fake_control_plane.h"
#include "mocks/dataplane/mock_node_link_handler.h"

namespace herald::node {
namespace {

using ::testing::_;
using ::testing::AnyNumber;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using namespace std::chrono_literals;

class NodeLinkClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.control_addresses = {server_.address()};
    options_.node_id = "node-test";
    options_.reconnect_max_ms = 200;
    ON_CALL(handler_, onConfig(_)).WillByDefault(Return(Status::ok()));
  }
  void TearDown() override {
    if (client_) {
      client_->stop();
    }
  }

  void start() {
    client_ = std::make_unique<NodeLinkClient>(options_, interest_, handler_);
    client_->start();
  }

  FakeControlPlaneServer server_;
  FakeControlPlane& control_ = server_.service;
  NodeLinkOptions options_;
  InterestTracker interest_;
  NiceMock<MockNodeLinkHandler> handler_;
  std::unique_ptr<NodeLinkClient> client_;
};

TEST_F(NodeLinkClientTest, HelloCarriesTheInterestAndTheConfigIsAppliedAndAcked) {
  interest_.channelAdded("news");
  std::atomic<int> applied{0};
  EXPECT_CALL(handler_, onConfig(_)).WillRepeatedly(Invoke([&](const auto& snapshot) {
    applied = static_cast<int>(snapshot.version());
    return Status::ok();
  }));
  start();
  size_t at = 0;
  auto hello = control_.waitFor([](const auto& m) { return m.has_hello(); }, &at, 10s);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->message.hello().node_id(), "node-test");
  EXPECT_THAT(hello->message.hello().channels(), ::testing::ElementsAre("news"));
  auto ack = control_.waitFor([](const auto& m) { return m.has_ack(); }, &at, 10s);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->message.ack().version(), 1u);
  EXPECT_EQ(applied.load(), 1);
}

TEST_F(NodeLinkClientTest, ARefusedConfigIsNackedWithTheReason) {
  EXPECT_CALL(handler_, onConfig(_))
      .WillRepeatedly(Return(Status(ErrorCode::kBadRequest, "namespace rule is invalid")));
  start();
  size_t at = 0;
  auto nack = control_.waitFor([](const auto& m) { return m.has_nack(); }, &at, 10s);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->message.nack().error(), "namespace rule is invalid");
  EXPECT_FALSE(client_->connected());
}

TEST_F(NodeLinkClientTest, ControlMessagesReachTheHandlerInOrder) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> offsets;
  EXPECT_CALL(handler_, onDeliver(_)).WillRepeatedly(Invoke([&](const auto& d) {
    std::lock_guard<std::mutex> lock(mu);
    offsets.push_back(d.publication().offset());
    cv.notify_all();
  }));
  start();
  size_t at = 0;
  ASSERT_TRUE(control_.waitFor([](const auto& m) { return m.has_ack(); }, &at, 10s));
  for (uint64_t offset = 1; offset <= 50; ++offset) {
    herald::v1::ControlMessage m;
    m.mutable_deliver()->mutable_publication()->set_channel("news");
    m.mutable_deliver()->mutable_publication()->set_offset(offset);
    control_.send(m);
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return offsets.size() == 50; }));
  for (uint64_t i = 0; i < 50; ++i) {
    EXPECT_EQ(offsets[i], i + 1);
  }
}

TEST_F(NodeLinkClientTest, AfterABreakTheNodeRelinksAndQueuedRequestsFollowTheNewHello) {
  std::atomic<int> sessions_started{0};
  EXPECT_CALL(handler_, onSessionStarted()).WillRepeatedly(Invoke([&] { ++sessions_started; }));
  start();
  size_t at = 0;
  ASSERT_TRUE(control_.waitFor([](const auto& m) { return m.has_ack(); }, &at, 10s));
  ASSERT_TRUE(client_->connected());

  control_.endSession();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (client_->connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  herald::v1::NodeMessage request;
  request.mutable_recover()->set_request_id(7);
  request.mutable_recover()->set_channel("news");
  ASSERT_TRUE(client_->send(request));

  auto hello = control_.waitFor([](const auto& m) { return m.has_hello(); }, &at, 10s);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->session, 2);
  auto recover = control_.waitFor([](const auto& m) { return m.has_recover(); }, &at, 10s);
  ASSERT_TRUE(recover.has_value());
  EXPECT_EQ(recover->session, 2);
  EXPECT_EQ(recover->message.recover().request_id(), 7u);
  EXPECT_GE(client_->reconnects(), 1u);
  EXPECT_GE(sessions_started.load(), 2);
}

}  // namespace
}  // namespace herald::node
