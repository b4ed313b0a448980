#include "common/hook_settings.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(HookSettingsTest, UrlsOfEachKind) {
  auto http = parseHookUrl("http://127.0.0.1:9000/herald/");
  ASSERT_TRUE(http.isOk()) << http.status().message();
  EXPECT_EQ(http->kind, HookTarget::Kind::kHttp);
  EXPECT_EQ(http->host, "127.0.0.1");
  EXPECT_EQ(http->port, 9000);
  EXPECT_EQ(http->path, "/herald") << "a trailing slash is dropped: methods are appended";
  auto https = parseHookUrl("https://backend.example");
  ASSERT_TRUE(https.isOk());
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->path, "");
  auto grpc = parseHookUrl("grpc://[::1]:50051");
  ASSERT_TRUE(grpc.isOk());
  EXPECT_EQ(grpc->kind, HookTarget::Kind::kGrpc);
  EXPECT_EQ(grpc->host, "[::1]");
  EXPECT_EQ(grpc->port, 50051);
  EXPECT_FALSE(grpc->tls);
  auto grpcs = parseHookUrl("grpcs://backend.example:443");
  ASSERT_TRUE(grpcs.isOk());
  EXPECT_EQ(grpcs->kind, HookTarget::Kind::kGrpc);
  EXPECT_TRUE(grpcs->tls);
  EXPECT_EQ(grpcs->host, "backend.example");
}

TEST(HookSettingsTest, BadUrlsSayWhy) {
  for (const char* url : {"ftp://x", "http://", "http://h:0", "http://h:99999", "http://h:1x",
                          "grpc://h", "grpc://h:1/path", "grpcs://h", "grpcs://h:1/x", "grpcs:/h:1",
                          "http://h/a b", "http://h/a?q=1", "http://h\r\n:80/"}) {
    auto r = parseHookUrl(url);
    EXPECT_FALSE(r.isOk()) << url;
    if (!r.isOk()) {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

TEST(HookSettingsTest, ValidationNamesTheProblem) {
  herald::v1::HookSettings hooks;
  auto* e = hooks.add_endpoints();
  e->set_name("backend");
  e->set_url("http://127.0.0.1:9000");
  hooks.set_rpc("backend");
  EXPECT_TRUE(validateHookSettings(hooks).isOk());
  EXPECT_EQ(hookTimeoutMs(*e), kDefaultHookTimeoutMs);
  EXPECT_EQ(hookInFlight(*e), kDefaultHookInFlight);

  hooks.set_rpc("nowhere");
  EXPECT_NE(validateHookSettings(hooks).message().find("nowhere"), std::string::npos);
  hooks.set_rpc("backend");
  *hooks.add_endpoints() = *e;
  EXPECT_NE(validateHookSettings(hooks).message().find("named twice"), std::string::npos);
  hooks.mutable_endpoints()->RemoveLast();
  e->set_timeout_ms(kMaxHookTimeoutMs + 1);
  EXPECT_FALSE(validateHookSettings(hooks).isOk());
  e->set_timeout_ms(0);
  e->set_url("gopher://x");
  EXPECT_NE(validateHookSettings(hooks).message().find("backend"), std::string::npos);
}

TEST(HookSettingsTest, EachHookNamesAnEndpointAndConnectHeadersAreHeaderNames) {
  herald::v1::HookSettings hooks;
  hooks.add_endpoints()->set_name("backend");
  hooks.mutable_endpoints(0)->set_url("grpc://127.0.0.1:9000");
  hooks.set_connect("backend");
  hooks.set_refresh("backend");
  hooks.add_connect_headers("Cookie");
  hooks.add_connect_headers("X-Forwarded-For");
  EXPECT_TRUE(validateHookSettings(hooks).isOk());

  hooks.set_refresh("gone");
  EXPECT_NE(validateHookSettings(hooks).message().find("hooks.refresh names no endpoint: 'gone'"),
            std::string::npos);
  hooks.set_refresh("");
  hooks.set_connect("gone");
  EXPECT_NE(validateHookSettings(hooks).message().find("hooks.connect"), std::string::npos);
  hooks.set_connect("");
  hooks.set_connect_always(true);
  EXPECT_NE(validateHookSettings(hooks).message().find("connect_always needs hooks.connect"),
            std::string::npos);
  hooks.set_connect("backend");
  hooks.add_connect_headers("Bad Header: x");
  EXPECT_NE(validateHookSettings(hooks).message().find("is not a header name"), std::string::npos);
  hooks.mutable_connect_headers()->RemoveLast();
  for (size_t i = 0; i < kMaxConnectHeaders; ++i) {
    hooks.add_connect_headers("X-H" + std::to_string(i));
  }
  EXPECT_NE(validateHookSettings(hooks).message().find("at most 16"), std::string::npos);
}

TEST(HookSettingsTest, NamespacesNameEndpointsThatExist) {
  herald::v1::HookSettings hooks;
  hooks.add_endpoints()->set_name("backend");
  EXPECT_TRUE(checkNamespaceHooks(hooks, "backend", "").isOk());
  EXPECT_TRUE(checkNamespaceHooks(hooks, "", "backend").isOk());
  EXPECT_TRUE(checkNamespaceHooks(hooks, "", "").isOk());
  const Status s = checkNamespaceHooks(hooks, "", "bakcend");
  EXPECT_EQ(s.code(), ErrorCode::kBadRequest);
  EXPECT_NE(s.message().find("no hook endpoint named 'bakcend'"), std::string::npos);
}

TEST(HookSettingsTest, MethodNamesAndErrorCodes) {
  EXPECT_TRUE(validRpcMethod("orders.get"));
  EXPECT_TRUE(validRpcMethod("v1/users:list"));
  EXPECT_FALSE(validRpcMethod(""));
  EXPECT_FALSE(validRpcMethod(std::string(129, 'a')));
  EXPECT_FALSE(validRpcMethod("a b"));
  EXPECT_TRUE(validHookErrorCode("not_allowed"));
  EXPECT_FALSE(validHookErrorCode("Not allowed"));
  EXPECT_FALSE(validHookErrorCode(""));
}

}  // namespace
}  // namespace herald
