#include "dataplane/hooks/hook_json.h"

#include <nlohmann/json.hpp>

#include "common/json_text.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

TEST(HookJsonTest, TheRequestCarriesDataAsJsonItself) {
  herald::v1::RpcHookRequest request;
  request.mutable_caller()->set_user("alice");
  request.mutable_caller()->set_client("n1-7");
  request.set_method("orders.get");
  request.set_data(R"({"id":12345678901234567890123})");
  const std::string body = rpcRequestJson(request);
  EXPECT_NE(body.find(R"("data":{"id":12345678901234567890123})"), std::string::npos)
      << "a number no double holds passes as written: " << body;
  const auto doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc["method"], "orders.get");
  EXPECT_EQ(doc["caller"]["user"], "alice");
  EXPECT_EQ(doc["caller"]["client"], "n1-7");

  request.clear_data();
  EXPECT_TRUE(nlohmann::json::parse(rpcRequestJson(request))["data"].is_null());
}

TEST(HookJsonTest, RepliesWithDataOrAnError) {
  auto data = parseRpcReplyJson(R"({"data": {"total": 12345678901234567890123, "list": [1, 2]}})");
  ASSERT_TRUE(data.isOk()) << data.status().message();
  EXPECT_EQ(data->data(), R"({"total": 12345678901234567890123, "list": [1, 2]})")
      << "kept as sent";
  EXPECT_FALSE(data->has_error());
  ASSERT_TRUE(checkRpcReply(&data.value()).isOk());

  auto null_data = parseRpcReplyJson(R"({"data": null, "trace": "ignored"})");
  ASSERT_TRUE(null_data.isOk());
  EXPECT_EQ(null_data->data(), "null");

  auto error = parseRpcReplyJson(R"({"error": {"code": "Not Yours!", "message": "no"}})");
  ASSERT_TRUE(error.isOk());
  ASSERT_TRUE(checkRpcReply(&error.value()).isOk());
  EXPECT_EQ(error->error().code(), "backend_error")
      << "a code clients could not match is not passed";
  EXPECT_EQ(error->error().message(), "no");
}

TEST(HookJsonTest, WhatIsNotAReplyIsRefusedWithAReason) {
  for (const char* body : {"", "not json", "[1]", "{}", R"({"result": 1})", R"({"error": "nope"})",
                           R"({"error": {"message": "no code"}})", R"({"error": {"code": 5}})"}) {
    auto r = parseRpcReplyJson(body);
    EXPECT_FALSE(r.isOk()) << body;
    if (!r.isOk()) {
      EXPECT_NE(r.status().message().find("reply"), std::string::npos) << r.status().message();
    }
  }
  std::string deep = R"({"data":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_FALSE(parseRpcReplyJson(deep).isOk()) << "nesting is bounded";
  // The reply frame wraps data in one more level: data may nest one level less than a frame.
  herald::v1::RpcHookReply at_limit;
  at_limit.set_data(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'));
  EXPECT_FALSE(checkRpcReply(&at_limit).isOk());
  at_limit.set_data(std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']'));
  EXPECT_TRUE(checkRpcReply(&at_limit).isOk());
  std::string huge = R"({"data":")" + std::string(kMaxHookReplyBytes, 'x') + R"("})";
  EXPECT_FALSE(parseRpcReplyJson(huge).isOk());
}

TEST(HookJsonTest, AGrpcReplyIsCheckedLikeAnHttpOne) {
  herald::v1::RpcHookReply reply;
  reply.set_data("{not json");
  EXPECT_FALSE(checkRpcReply(&reply).isOk());
  reply.set_data("");
  ASSERT_TRUE(checkRpcReply(&reply).isOk());
  EXPECT_EQ(reply.data(), "null");
  reply.mutable_error()->set_code("too_many");
  reply.mutable_error()->set_message(std::string(5000, 'm'));
  ASSERT_TRUE(checkRpcReply(&reply).isOk());
  EXPECT_EQ(reply.error().message().size(), 1024u);
}

TEST(HookJsonTest, TheDecidingHooksRequestsCarryWhoAsks) {
  herald::v1::SubscribeHookRequest subscribe;
  subscribe.mutable_caller()->set_user("alice");
  subscribe.set_channel("doc:7");
  auto doc = nlohmann::json::parse(subscribeRequestJson(subscribe));
  EXPECT_EQ(doc["caller"]["user"], "alice");
  EXPECT_EQ(doc["channel"], "doc:7");

  herald::v1::PublishHookRequest publish;
  publish.set_channel("chat:1");
  publish.set_data(R"({"n":12345678901234567890123})");
  EXPECT_NE(publishRequestJson(publish).find(R"("data":{"n":12345678901234567890123})"),
            std::string::npos)
      << "the client's data as written";
  EXPECT_FALSE(nlohmann::json::parse(publishRequestJson(publish)).contains("tags"));
  (*publish.mutable_tags())["verified"] = "true";
  EXPECT_EQ(nlohmann::json::parse(publishRequestJson(publish))["tags"],
            (nlohmann::json{{"verified", "true"}}))
      << "the backend sees the client's tags";

  herald::v1::ConnectHookRequest connect;
  connect.set_query("lang=en");
  auto* cookie = connect.add_headers();
  cookie->set_name("cookie");
  cookie->set_value("s=1");
  doc = nlohmann::json::parse(connectRequestJson(connect));
  EXPECT_EQ(doc["query"], "lang=en");
  EXPECT_EQ(doc["headers"]["cookie"], "s=1");

  herald::v1::RefreshHookRequest refresh;
  refresh.set_expire_at(1900000000);
  EXPECT_EQ(nlohmann::json::parse(refreshRequestJson(refresh))["expire_at"], 1900000000);
}

TEST(HookJsonTest, DecidingRepliesAllowWithAnEmptyObject) {
  auto subscribe = parseSubscribeReplyJson("{}");
  ASSERT_TRUE(subscribe.isOk());
  EXPECT_FALSE(subscribe->has_error());
  EXPECT_TRUE(subscribe->info().empty());
  auto publish = parsePublishReplyJson("{}");
  ASSERT_TRUE(publish.isOk());
  EXPECT_TRUE(publish->data().empty()) << "the client's data stays";
  auto connect = parseConnectReplyJson("{}");
  ASSERT_TRUE(connect.isOk());
  EXPECT_TRUE(connect->user().empty()) << "anonymous";
}

TEST(HookJsonTest, DecidingRepliesKeepTheirJsonAsWrittenAndBoundTheRest) {
  auto subscribe = parseSubscribeReplyJson(
      R"({"info": {"big": 12345678901234567890123}, "ttl_seconds": 99999})");
  ASSERT_TRUE(subscribe.isOk()) << subscribe.status().message();
  EXPECT_EQ(subscribe->info(), R"({"big": 12345678901234567890123})");
  EXPECT_EQ(subscribe->ttl_seconds(), 3600u) << "cut to an hour";

  auto connect = parseConnectReplyJson(
      R"({"user":"bob","expire_at":1900000000,"channels":["a","b:c"],"info":[1]})");
  ASSERT_TRUE(connect.isOk());
  ASSERT_TRUE(checkConnectReply(&connect.value()).isOk());
  EXPECT_EQ(connect->user(), "bob");
  EXPECT_EQ(connect->expire_at(), 1900000000);
  ASSERT_EQ(connect->channels_size(), 2);
  EXPECT_EQ(connect->channels(1), "b:c");
  EXPECT_EQ(connect->info(), "[1]");

  for (const char* body : {R"({"user": 5})", R"({"channels": "a"})", R"({"channels": [1]})",
                           R"({"expire_at": -1})", R"({"expire_at": "soon"})"}) {
    EXPECT_FALSE(parseConnectReplyJson(body).isOk()) << body;
  }
  herald::v1::ConnectHookReply too_many;
  for (int i = 0; i < 101; ++i) {
    too_many.add_channels("c" + std::to_string(i));
  }
  EXPECT_FALSE(checkConnectReply(&too_many).isOk());
  herald::v1::ConnectHookReply long_user;
  long_user.set_user(std::string(257, 'u'));
  EXPECT_FALSE(checkConnectReply(&long_user).isOk());

  // A refusal keeps only the error: nothing else of the reply is acted on.
  auto refused = parseConnectReplyJson(
      R"({"user":"mallory","channels":["admin"],"error":{"code":"Bad Code","message":"no"}})");
  ASSERT_TRUE(refused.isOk());
  ASSERT_TRUE(checkConnectReply(&refused.value()).isOk());
  EXPECT_TRUE(refused->user().empty());
  EXPECT_EQ(refused->channels_size(), 0);
  EXPECT_EQ(refused->error().code(), "backend_error");

  herald::v1::PublishHookReply publish;
  publish.set_data("{broken");
  EXPECT_FALSE(checkPublishReply(&publish).isOk()) << "what is published is JSON";
  herald::v1::SubscribeHookReply info;
  info.set_info(std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']'));
  EXPECT_FALSE(checkSubscribeReply(&info).isOk())
      << "the reply frame wraps info two levels deep: it stays within the frame's bound";
  info.set_info(std::string(kMaxJsonDepth - 2, '[') + std::string(kMaxJsonDepth - 2, ']'));
  EXPECT_TRUE(checkSubscribeReply(&info).isOk());

  auto refresh = parseRefreshReplyJson(R"({"expire_at": 1900000000})");
  ASSERT_TRUE(refresh.isOk());
  EXPECT_EQ(refresh->expire_at(), 1900000000);
  EXPECT_FALSE(parseRefreshReplyJson(R"({"expire_at": 1.5})").isOk());
}

}  // namespace
}  // namespace herald::node
