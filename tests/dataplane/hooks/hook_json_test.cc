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

}  // namespace
}  // namespace herald::node
