// Hostile callers against a real herald-control: requests without credentials are refused
// before their body is read (its peak memory stays put), oversized requests are refused, and
// a node must prove it holds the node secret before it gets anything.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "herald/v1/node_link.grpc.pb.h"
#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

// A client that sends messages as large as it likes (gRPC clients send up to any size).
std::unique_ptr<herald::v1::Control::Stub> bigMessageStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(128 << 20);
  return herald::v1::Control::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

class HostileControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* asan = std::getenv("ASAN_OPTIONS");
    ::setenv("ASAN_OPTIONS", (std::string(asan ? asan : "") + ":quarantine_size_mb=1").c_str(), 1);
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    reader_ = std::make_unique<WsClient>(cluster_.wsUrl(0, "subscribe=token:price"));
    ASSERT_TRUE(reader_->waitOpen(10s));
    ASSERT_TRUE(reader_->nextOfType("connected", 10s));
    ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  }

  long controlHwmKb() { return cluster_.control().statusKb("VmHWM"); }

  void expectPublishingWorks() {
    ASSERT_TRUE(cluster_.control().running()) << cluster_.control().output();
    auto sent = cluster_.publish("token:price", "{\"still\":true}");
    auto frame = reader_->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ((*frame)["offset"], sent.offset());
  }

  Cluster cluster_;
  std::unique_ptr<WsClient> reader_;
};

TEST_F(HostileControlTest, KeylessCallsAreRefusedBeforeTheirBodyIsRead) {
  const long before = controlHwmKb();
  auto stub = bigMessageStub(cluster_.controlAddress());
  // Under the request size limit, so only the key check can keep them out: 8 x 16 MB.
  const std::string big(16 << 20, 'x');
  std::vector<grpc::Status> results(8);
  {
    std::vector<std::thread> callers;
    for (size_t i = 0; i < results.size(); ++i) {
      callers.emplace_back([&, i] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 60s);
        if (i % 2 == 1) {
          ctx.AddMetadata("authorization", "Bearer not-a-key-not-a-key-not-a-key-0");
        }
        herald::v1::PublishRequest req;
        req.set_channel("token:price");
        req.set_data(big);
        herald::v1::PublishResponse resp;
        results[i] = stub->Publish(&ctx, req, &resp);
      });
    }
    for (auto& t : callers) {
      t.join();
    }
  }
  for (const auto& s : results) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    EXPECT_NE(s.error_message().find("authorization: Bearer"), std::string::npos);
  }
  // Four 60 MB bodies once took herald-control from 21 MB to 523 MB.
  const long grown = controlHwmKb() - before;
  EXPECT_LT(grown, 32 * 1024) << "herald-control read keyless requests";
  std::printf("herald-control peak memory grew %ld KiB for 8 keyless 16 MB requests\n", grown);
  expectPublishingWorks();
}

TEST_F(HostileControlTest, RequestsOverTheLimitAreRefusedEvenWithAKey) {
  auto stub = bigMessageStub(cluster_.controlAddress());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + kTestAdminKey);
  herald::v1::PublishBatchRequest req;
  const std::string data = "\"" + std::string(1000 * 1000, 'x') + "\"";
  for (int i = 0; i < 20; ++i) {  // 20 MB: over the 17 MiB a request may have
    auto* p = req.add_publications();
    p->set_channel("token:batch");
    p->set_data(data);
  }
  herald::v1::PublishBatchResponse resp;
  auto s = stub->PublishBatch(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  // Just under it is a legitimate batch, published.
  req.mutable_publications()->DeleteSubrange(15, 5);
  grpc::ClientContext ok_ctx;
  ok_ctx.AddMetadata("authorization", "Bearer " + kTestAdminKey);
  auto ok = stub->PublishBatch(&ok_ctx, req, &resp);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(resp.results_size(), 15);
  expectPublishingWorks();
}

TEST_F(HostileControlTest, ANodeLinkCallWithoutTheSecretIsNotRead) {
  const long before = controlHwmKb();
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(128 << 20);
  auto channel = grpc::CreateCustomChannel(cluster_.controlAddress(),
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = herald::v1::NodeLink::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  auto stream = stub->Session(&ctx);
  herald::v1::NodeMessage hello;
  hello.mutable_hello()->set_node_id("intruder");
  hello.mutable_hello()->set_build(std::string(60 << 20, 'b'));
  stream->Write(hello);
  stream->WritesDone();
  herald::v1::ControlMessage msg;
  EXPECT_FALSE(stream->Read(&msg)) << "an unknown node received " << msg.DebugString();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_LT(controlHwmKb() - before, 32 * 1024) << "herald-control read an unknown node's message";
  expectPublishingWorks();
}

}  // namespace
}  // namespace herald::testing
