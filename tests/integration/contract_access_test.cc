// gRPC contract, access: which API key role may call which RPC (every RPC of the v1 Control
// service is in the table), and the NodeLink service's refusal of unknown or secretless nodes.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include <grpcpp/generic/generic_stub.h>

#include "herald/v1/node_link.grpc.pb.h"
#include "integration/contract_fixture.h"

namespace herald::testing {
namespace {

TEST_F(ContractTest, NodeLinkRefusesASessionWithoutHello) {
  auto channel =
      grpc::CreateChannel(cluster_->controlAddress(), grpc::InsecureChannelCredentials());
  auto stub = herald::v1::NodeLink::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  ctx.AddMetadata("x-herald-node-secret", kTestNodeSecret);
  auto stream = stub->Session(&ctx);
  herald::v1::NodeMessage stats;
  stats.mutable_stats()->set_connections(1);
  ASSERT_TRUE(stream->Write(stats));
  stream->WritesDone();
  herald::v1::ControlMessage ignored;
  while (stream->Read(&ignored)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(ContractTest, NodeLinkRefusesANodeWithoutTheSecret) {
  auto channel =
      grpc::CreateChannel(cluster_->controlAddress(), grpc::InsecureChannelCredentials());
  auto stub = herald::v1::NodeLink::NewStub(channel);
  // The secret is checked twice: in the call's metadata, before any message is read, and in
  // the Hello. Either one wrong is refused.
  const std::string wrong = "herald-test-node-secreT";
  const std::vector<std::pair<std::string, std::string>> cases = {{"", ""},
                                                                  {wrong, wrong},
                                                                  {kTestNodeSecret, ""},
                                                                  {kTestNodeSecret, wrong},
                                                                  {"", kTestNodeSecret},
                                                                  {wrong, kTestNodeSecret}};
  for (const auto& [metadata_secret, hello_secret] : cases) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!metadata_secret.empty()) {
      ctx.AddMetadata("x-herald-node-secret", metadata_secret);
    }
    auto stream = stub->Session(&ctx);
    herald::v1::NodeMessage hello;
    hello.mutable_hello()->set_node_id("intruder");
    hello.mutable_hello()->set_secret(hello_secret);
    stream->Write(hello);
    stream->WritesDone();
    herald::v1::ControlMessage msg;
    EXPECT_FALSE(stream->Read(&msg)) << "an unknown node received " << msg.DebugString();
    EXPECT_EQ(stream->Finish().error_code(), StatusCode::UNAUTHENTICATED);
  }
}

TEST_F(ContractTest, EveryRpcNeedsAKeyWithTheRightRole) {
  auto anonymous = controlStub(cluster_->controlAddress(), "");
  auto wrong = controlStub(cluster_->controlAddress(), "not-a-key-not-a-key-not-a-key-00");
  for (auto* stub : {anonymous.get(), wrong.get()}) {
    grpc::ClientContext ctx;
    herald::v1::InfoResponse info;
    auto s = stub->Info(&ctx, herald::v1::InfoRequest(), &info);
    EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
    EXPECT_NE(s.error_message().find("authorization: Bearer"), std::string::npos);
  }
  // Make one key per role and check each RPC family against it.
  std::map<herald::v1::ApiKeyRole, std::unique_ptr<herald::v1::Control::Stub>> stubs;
  for (auto role : {herald::v1::API_KEY_ROLE_PUBLISHER, herald::v1::API_KEY_ROLE_READER}) {
    herald::v1::CreateApiKeyRequest req;
    req.set_name("contract");
    req.set_role(role);
    herald::v1::CreateApiKeyResponse resp;
    ASSERT_TRUE(call(&Stub::CreateApiKey, req, &resp).ok());
    EXPECT_EQ(resp.secret().rfind("hk_", 0), 0u);
    stubs[role] = controlStub(cluster_->controlAddress(), resp.secret());
  }
  auto code = [](herald::v1::Control::Stub& stub, const std::string& rpc) {
    grpc::ClientContext ctx;
    if (rpc == "Publish") {
      herald::v1::PublishRequest req;
      req.set_channel("roles:x");
      req.set_data("1");
      herald::v1::PublishResponse resp;
      return stub.Publish(&ctx, req, &resp).error_code();
    }
    if (rpc == "ListNodes") {
      herald::v1::ListNodesResponse resp;
      return stub.ListNodes(&ctx, herald::v1::ListNodesRequest(), &resp).error_code();
    }
    if (rpc == "SetLimits") {
      herald::v1::SetLimitsResponse resp;
      return stub.SetLimits(&ctx, herald::v1::SetLimitsRequest(), &resp).error_code();
    }
    herald::v1::ListApiKeysResponse resp;
    return stub.ListApiKeys(&ctx, herald::v1::ListApiKeysRequest(), &resp).error_code();
  };
  auto& publisher = *stubs[herald::v1::API_KEY_ROLE_PUBLISHER];
  auto& reader = *stubs[herald::v1::API_KEY_ROLE_READER];
  EXPECT_EQ(code(publisher, "Publish"), StatusCode::OK);
  EXPECT_EQ(code(publisher, "ListNodes"), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(publisher, "SetLimits"), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(publisher, "ListApiKeys"), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(reader, "Publish"), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(reader, "ListNodes"), StatusCode::OK);
  EXPECT_EQ(code(reader, "SetLimits"), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(cluster_->api(), "ListApiKeys"), StatusCode::OK);

  // Revoked keys stop working at once.
  herald::v1::ListApiKeysResponse keys;
  ASSERT_TRUE(call(&Stub::ListApiKeys, herald::v1::ListApiKeysRequest(), &keys).ok());
  std::string reader_id;
  for (const auto& k : keys.keys()) {
    if (k.role() == herald::v1::API_KEY_ROLE_READER) {
      reader_id = k.id();
    }
  }
  ASSERT_FALSE(reader_id.empty());
  herald::v1::RevokeApiKeyRequest revoke;
  revoke.set_id(reader_id);
  herald::v1::RevokeApiKeyResponse revoked;
  ASSERT_TRUE(call(&Stub::RevokeApiKey, revoke, &revoked).ok());
  EXPECT_EQ(code(reader, "ListNodes"), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(&Stub::RevokeApiKey, revoke, &revoked).error_code(), StatusCode::NOT_FOUND);
}

// Every RPC of the service, from the descriptor, against a key of each role: a new RPC fails
// this test until it is given a role here (and in docs/security.md).
TEST_F(ContractTest, RoleTableCoversEveryRpc) {
  const std::map<std::string, std::string> need = {
      {"CreateNamespace", "admin"},  {"UpdateNamespace", "admin"},
      {"DeleteNamespace", "admin"},  {"SetLimits", "admin"},
      {"GetAuthSettings", "admin"},  {"SetAuthSettings", "admin"},
      {"CreateApiKey", "admin"},     {"ListApiKeys", "admin"},
      {"RevokeApiKey", "admin"},     {"Publish", "publisher"},
      {"PublishBatch", "publisher"}, {"PublishStream", "publisher"},
      {"Broadcast", "publisher"},    {"SendToUser", "publisher"},
      {"Disconnect", "publisher"},   {"Subscribe", "publisher"},
      {"Unsubscribe", "publisher"},  {"Refresh", "publisher"},
      {"RevokeToken", "publisher"},  {"GetNamespace", "reader"},
      {"ListNamespaces", "reader"},  {"GetLimits", "reader"},
      {"ListNodes", "reader"},       {"ListChannels", "reader"},
      {"History", "reader"},         {"Presence", "reader"},
      {"ClusterStats", "reader"},    {"Info", "reader"}};
  std::map<std::string, std::string> keys = {{"none", ""}};
  for (auto [name, role] : {std::pair{"publisher", herald::v1::API_KEY_ROLE_PUBLISHER},
                            std::pair{"reader", herald::v1::API_KEY_ROLE_READER}}) {
    herald::v1::CreateApiKeyRequest req;
    req.set_role(role);
    herald::v1::CreateApiKeyResponse resp;
    ASSERT_TRUE(call(&Stub::CreateApiKey, req, &resp).ok());
    keys[name] = resp.secret();
  }
  auto channel =
      grpc::CreateChannel(cluster_->controlAddress(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  // An empty request: allowed calls fail validation (or succeed) but are never refused for
  // the key; refused calls are refused before anything else.
  auto codeOf = [&](const std::string& method, const std::string& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!key.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + key);
    }
    grpc::CompletionQueue cq;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    auto rpc = generic.PrepareUnaryCall(&ctx, "/herald.v1.Control/" + method, request, &cq);
    rpc->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    rpc->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    cq.Next(&tag, &ok);
    return status.error_code();
  };
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("herald.v1.Control");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method = service->method(i)->name();
    auto it = need.find(method);
    ASSERT_NE(it, need.end()) << method << " has no role in this table";
    EXPECT_EQ(codeOf(method, keys["none"]), StatusCode::UNAUTHENTICATED) << method;
    for (const char* role : {"publisher", "reader"}) {
      const auto code = codeOf(method, keys[role]);
      if (it->second == role) {
        EXPECT_NE(code, StatusCode::PERMISSION_DENIED) << role << " may call " << method;
        EXPECT_NE(code, StatusCode::UNAUTHENTICATED) << method;
      } else {
        EXPECT_EQ(code, StatusCode::PERMISSION_DENIED) << role << " may not call " << method;
      }
    }
  }
  EXPECT_EQ(static_cast<size_t>(service->method_count()), need.size()) << "stale table entries";
}

TEST_F(ContractTest, NodeLinkSendsConfigAfterHelloAndRecordsNack) {
  auto channel =
      grpc::CreateChannel(cluster_->controlAddress(), grpc::InsecureChannelCredentials());
  auto stub = herald::v1::NodeLink::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  ctx.AddMetadata("x-herald-node-secret", kTestNodeSecret);
  auto stream = stub->Session(&ctx);
  herald::v1::NodeMessage hello;
  hello.mutable_hello()->set_node_id("contract-fake-node");
  hello.mutable_hello()->set_listen_address("127.0.0.1:1");
  hello.mutable_hello()->set_secret(kTestNodeSecret);
  ASSERT_TRUE(stream->Write(hello));
  herald::v1::ControlMessage first;
  ASSERT_TRUE(stream->Read(&first));
  ASSERT_TRUE(first.has_config());
  EXPECT_GT(first.config().version(), 0u);
  EXPECT_FALSE(first.config().nonce().empty());
  EXPECT_EQ(first.config().limits().max_connections_per_node(), 10000u);
  herald::v1::NodeMessage nack;
  nack.mutable_nack()->set_version(first.config().version());
  nack.mutable_nack()->set_nonce(first.config().nonce());
  nack.mutable_nack()->set_error("test refuses this config");
  ASSERT_TRUE(stream->Write(nack));
  EXPECT_TRUE(eventually(
      [&] {
        herald::v1::ListNodesResponse nodes;
        grpc::ClientContext c;
        cluster_->api().ListNodes(&c, herald::v1::ListNodesRequest(), &nodes);
        for (const auto& n : nodes.nodes()) {
          if (n.node_id() == "contract-fake-node") {
            return n.last_nack_error().find("test refuses") != std::string::npos;
          }
        }
        return false;
      },
      10s));
  ctx.TryCancel();
}

}  // namespace
}  // namespace herald::testing
