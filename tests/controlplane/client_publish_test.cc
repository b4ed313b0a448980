#include "controlplane/client_publish.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/memory_stream_engine.h"
#include "controlplane/router.h"
#include "mocks/controlplane/mocks.h"

namespace herald::control {
namespace {

using ::testing::NiceMock;
using ::testing::Return;

class ClientPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<herald::v1::ConfigSnapshot>();
    auto* chat = config->add_namespaces();
    chat->set_name("chat");
    chat->set_allow_client_publish(true);
    chat->set_history_size(10);
    config->add_namespaces()->set_name("news");  // client publish off
    ON_CALL(store_, snapshot()).WillByDefault(Return(config));
  }

  herald::v1::ClientPublishResult publish(const std::string& channel, const std::string& data,
                                          const std::string& user = "alice",
                                          const std::string& key = "",
                                          const std::string& event = "") {
    herald::v1::ClientPublish request;
    request.set_request_id(++id_);
    request.set_channel(channel);
    request.set_data(data);
    request.set_user(user);
    request.set_client("n1-0-" + user);
    request.set_idempotency_key(key);
    request.set_event(event);
    return publishForClient(store_, engine_, request);
  }

  NiceMock<MockConfigStore> store_;
  Router router_;
  MemoryStreamEngine engine_{router_};
  uint64_t id_ = 0;
};

TEST_F(ClientPublishTest, PublishesWithItsSenderAndAnswersWithTheOffset) {
  auto result = publish("chat:lobby", R"({"t":"hi"})", "alice", "", "said");
  EXPECT_EQ(result.request_id(), id_);
  EXPECT_EQ(result.error(), "");
  EXPECT_EQ(result.offset(), 1u);
  EXPECT_FALSE(result.epoch().empty());
  HistoryQuery all;
  auto history = engine_.history("chat:lobby", all, 0);
  ASSERT_EQ(history.publications.size(), 1u);
  EXPECT_EQ(history.publications[0]->publisher_user(), "alice");
  EXPECT_EQ(history.publications[0]->publisher_client(), "n1-0-alice");
  EXPECT_EQ(history.publications[0]->event(), "said");
  EXPECT_EQ(publish("chat:lobby", "2").offset(), 2u);
}

TEST_F(ClientPublishTest, RefusesWhatTheControlApiWouldRefuse) {
  EXPECT_EQ(publish("news:today", "1").error(), "permission_denied");
  EXPECT_EQ(publish("other:x", "1").error(), "permission_denied")
      << "an unconfigured namespace (no default) does not allow client publish";
  EXPECT_EQ(publish("bad name", "1").error(), "bad_request");
  EXPECT_EQ(publish("chat:lobby", "{not json").error(), "bad_request");
  EXPECT_EQ(publish("chat:lobby", "1", "alice", "", "has space").error(), "bad_request");
  EXPECT_EQ(publish("chat:lobby", "1", "alice", std::string(257, 'k')).error(), "bad_request");
  auto refused = publish("news:today", "1");
  EXPECT_EQ(refused.request_id(), id_);
  EXPECT_NE(refused.message().find("news"), std::string::npos) << refused.message();
  EXPECT_EQ(engine_.publications(), 0u) << "nothing refused was published";
}

TEST_F(ClientPublishTest, IdempotencyKeysAreScopedToTheSender) {
  auto first = publish("chat:lobby", "1", "alice", "k");
  auto retry = publish("chat:lobby", "1", "alice", "k");
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.offset(), first.offset());
  auto bob = publish("chat:lobby", "1", "bob", "k");
  EXPECT_FALSE(bob.duplicate());
  EXPECT_EQ(bob.offset(), 2u);
  // A Control API publish with the same key, or with the client's stored form of it, is not
  // mistaken for the client's.
  for (const std::string& backend_key :
       {std::string("k"), clientIdempotencyKey("alice", "", "k")}) {
    PublishItem item;
    item.channel = "chat:lobby";
    item.data = "1";
    item.idempotency_key = backendIdempotencyKey(backend_key);
    auto backend = engine_.publish(item);
    EXPECT_FALSE(backend.duplicate) << backend_key;
  }
  EXPECT_EQ(engine_.publications(), 4u);
}

TEST_F(ClientPublishTest, AnonymousSendersKeysBelongToTheirConnection) {
  auto send = [&](const std::string& client) {
    herald::v1::ClientPublish request;
    request.set_request_id(++id_);
    request.set_channel("chat:lobby");
    request.set_data("1");
    request.set_client(client);
    request.set_idempotency_key("k");
    return publishForClient(store_, engine_, request);
  };
  EXPECT_FALSE(send("n1-0-1").duplicate());
  EXPECT_TRUE(send("n1-0-1").duplicate()) << "the same connection's retry";
  EXPECT_FALSE(send("n1-0-2").duplicate()) << "another anonymous connection's key is its own";
  EXPECT_NE(clientIdempotencyKey("", "u1", "k"), clientIdempotencyKey("1", "", "k"))
      << "an anonymous scope never equals a user's";
  EXPECT_EQ(backendIdempotencyKey(""), "") << "no key stays no key";
}

}  // namespace
}  // namespace herald::control
