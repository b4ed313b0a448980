// ControlService without a network: handlers called directly with mock engine, keys, config
// and router, to pin what each API call checks before anything is published.
#include "controlplane/control_service.h"

#include <gmock/gmock.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include "mocks/controlplane/mocks.h"

namespace herald::control {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kPublisherKey[] = "pub-key";
constexpr char kReaderKey[] = "read-key";

class ControlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<herald::v1::ConfigSnapshot>();
    auto* news = config->add_namespaces();
    news->set_name("news");
    news->set_history_size(50);
    news->set_history_ttl_seconds(60);
    config->mutable_limits()->set_user_history_size(7);
    ON_CALL(store_, snapshot()).WillByDefault(Return(config));
    ON_CALL(keys_, roleOf(kPublisherKey)).WillByDefault(Return(herald::v1::API_KEY_ROLE_PUBLISHER));
    ON_CALL(keys_, roleOf(kReaderKey)).WillByDefault(Return(herald::v1::API_KEY_ROLE_READER));
  }

  // A server context as gRPC builds it for a call carrying `key` (none when empty). The
  // spouse owns the metadata the context points into, so both live as long as the call.
  struct Call {
    grpc::ServerContext ctx;
    grpc::testing::ServerContextTestSpouse spouse{&ctx};
    grpc::ServerContext* get() { return &ctx; }
  };
  std::unique_ptr<Call> call(const std::string& key) {
    auto c = std::make_unique<Call>();
    if (!key.empty()) {
      c->spouse.AddClientMetadata("authorization", "Bearer " + key);
    }
    return c;
  }

  static PublishOutcome published(uint64_t offset, uint32_t nodes = 1) {
    PublishOutcome out;
    out.offset = offset;
    out.epoch = "e1";
    out.nodes = nodes;
    return out;
  }

  NiceMock<MockConfigStore> store_;
  NiceMock<MockApiKeyStore> keys_;
  StrictMock<MockStreamEngine> engine_;
  StrictMock<MockDeliveryRouter> router_;
  Router registry_router_;
  NodeRegistry nodes_{registry_router_};
  PresenceBroker presence_;
  ControlService service_{store_, keys_, engine_, nodes_, router_, presence_};
};

TEST_F(ControlServiceTest, ACallWithoutAKnownKeyIsUnauthenticatedAndPublishesNothing) {
  herald::v1::PublishRequest req;
  req.set_channel("news:a");
  req.set_data("{}");
  herald::v1::PublishResponse resp;
  EXPECT_EQ(service_.Publish(call("")->get(), &req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(service_.Publish(call("nobody")->get(), &req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(service_.inFlight(), 0);
}

TEST_F(ControlServiceTest, AReaderKeyMayNotPublishButMayRead) {
  herald::v1::PublishRequest req;
  req.set_channel("news:a");
  req.set_data("{}");
  herald::v1::PublishResponse resp;
  const grpc::Status denied = service_.Publish(call(kReaderKey)->get(), &req, &resp);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("Publish"));

  herald::v1::GetLimitsRequest limits_req;
  herald::v1::GetLimitsResponse limits_resp;
  EXPECT_TRUE(service_.GetLimits(call(kReaderKey)->get(), &limits_req, &limits_resp).ok());
}

TEST_F(ControlServiceTest, PublishHandsTheEngineOneValidatedItemWithItsNamespacePolicy) {
  EXPECT_CALL(engine_, publish(AllOf(Field(&PublishItem::channel, "news:a"),
                                     Field(&PublishItem::data, R"({"p":1})"),
                                     Field(&PublishItem::event, "tick"),
                                     // Backend keys live apart from client keys.
                                     Field(&PublishItem::idempotency_key, "b:k1"))))
      .WillOnce(Invoke([](const PublishItem& item) {
        EXPECT_EQ(item.history.size, 50u);
        EXPECT_EQ(item.history.ttl_ms, 60000);
        EXPECT_GT(item.ts_unix_ms, 0);
        return published(9, 3);
      }));
  herald::v1::PublishRequest req;
  req.set_channel("news:a");
  req.set_data(R"({"p":1})");
  req.set_event("tick");
  req.set_idempotency_key("k1");
  herald::v1::PublishResponse resp;
  ASSERT_TRUE(service_.Publish(call(kPublisherKey)->get(), &req, &resp).ok());
  EXPECT_EQ(resp.offset(), 9u);
  EXPECT_EQ(resp.epoch(), "e1");
  EXPECT_EQ(resp.nodes(), 3u);
}

TEST_F(ControlServiceTest, InvalidPublicationsAreRefusedBeforeTheEngine) {
  herald::v1::PublishResponse resp;
  for (const auto& [channel, data] : std::vector<std::pair<std::string, std::string>>{
           {"", "{}"}, {"news:a b", "{}"}, {"news:a", "not json"}, {"news:a", ""}}) {
    herald::v1::PublishRequest req;
    req.set_channel(channel);
    req.set_data(data);
    EXPECT_EQ(service_.Publish(call(kPublisherKey)->get(), &req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << channel << " " << data;
  }
}

TEST_F(ControlServiceTest, AnEngineFailureKeepsItsCode) {
  PublishOutcome down;
  down.status = Status(ErrorCode::kUnavailable, "redis 127.0.0.1:6379: connection refused");
  EXPECT_CALL(engine_, publish(_)).WillOnce(Return(down));
  herald::v1::PublishRequest req;
  req.set_channel("news:a");
  req.set_data("{}");
  herald::v1::PublishResponse resp;
  const grpc::Status s = service_.Publish(call(kPublisherKey)->get(), &req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("connection refused"));
}

TEST_F(ControlServiceTest, ABatchWithOneBadEntryPublishesNothing) {
  herald::v1::PublishBatchRequest req;
  for (int i = 0; i < 3; ++i) {
    auto* p = req.add_publications();
    p->set_channel("news:a");
    p->set_data(i == 2 ? "{" : "{}");
  }
  herald::v1::PublishBatchResponse resp;
  const grpc::Status s = service_.PublishBatch(call(kPublisherKey)->get(), &req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("publications[2]"));
  EXPECT_EQ(resp.results_size(), 0);
}

TEST_F(ControlServiceTest, ABatchThatFailsMidwaySaysHowManyWereOut) {
  EXPECT_CALL(engine_, publishBatch(_)).WillOnce(Invoke([](const std::vector<PublishItem>& items) {
    EXPECT_EQ(items.size(), 3u);
    PublishOutcome failed;
    failed.status = Status(ErrorCode::kUnavailable, "redis away");
    return std::vector<PublishOutcome>{published(1), failed};
  }));
  herald::v1::PublishBatchRequest req;
  for (int i = 0; i < 3; ++i) {
    auto* p = req.add_publications();
    p->set_channel("news:a");
    p->set_data("{}");
  }
  herald::v1::PublishBatchResponse resp;
  const grpc::Status s = service_.PublishBatch(call(kPublisherKey)->get(), &req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("publications[1] (after 1 published)"));
}

TEST_F(ControlServiceTest, SendToUserUsesThePersonalStreamPolicy) {
  herald::v1::SendToUserRequest bad;
  bad.set_data("{}");
  herald::v1::SendToUserResponse resp;
  EXPECT_EQ(service_.SendToUser(call(kPublisherKey)->get(), &bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_CALL(engine_, sendToUser(Field(&UserPublishItem::user, "alice")))
      .WillOnce(Invoke([](const UserPublishItem& item) {
        EXPECT_EQ(item.history.size, 7u);
        return published(4, 2);
      }));
  herald::v1::SendToUserRequest req;
  req.set_user("alice");
  req.set_data(R"({"n":1})");
  ASSERT_TRUE(service_.SendToUser(call(kPublisherKey)->get(), &req, &resp).ok());
  EXPECT_EQ(resp.offset(), 4u);
  EXPECT_EQ(resp.nodes(), 2u);
}

TEST_F(ControlServiceTest, DisconnectChecksTheCodeAndAsksOnlyTheUsersNodes) {
  herald::v1::DisconnectRequest bad;
  bad.set_user("alice");
  bad.set_code(1000);  // not an application code
  herald::v1::DisconnectResponse resp;
  EXPECT_EQ(service_.Disconnect(call(kPublisherKey)->get(), &bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  auto node = std::make_shared<NiceMock<MockNodeSink>>("n1");
  ControlMessagePtr sent;
  EXPECT_CALL(*node, send(_)).WillOnce(Invoke([&](ControlMessagePtr m) {
    sent = std::move(m);
    return true;
  }));
  EXPECT_CALL(router_, forUser("alice", _))
      .WillOnce(Invoke([&](const std::string&, const DeliveryRouter::Visit& visit) {
        visit(*node);
        return 1u;
      }));
  herald::v1::DisconnectRequest req;
  req.set_user("alice");
  ASSERT_TRUE(service_.Disconnect(call(kPublisherKey)->get(), &req, &resp).ok());
  EXPECT_EQ(resp.nodes(), 1u);
  ASSERT_NE(sent, nullptr);
  EXPECT_EQ(sent->disconnect().code(), 4100u);  // the documented default
  EXPECT_EQ(sent->disconnect().user(), "alice");
}

}  // namespace
}  // namespace herald::control
