// The hooks that decide for a connection (docs/hooks.md), through real nodes and a backend
// written here: connect (who it is), subscribe (rule `hook`), publish, refresh; their
// failure policies, the answers a node may reuse, and a gRPC backend for the same calls.
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "herald/v1/hooks.grpc.pb.h"
#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

// An HTTP backend whose answer to each hook the test sets: a function of the request body
// (as JSON) returning the reply body; it records every request per hook.
class ScriptedBackend {
 public:
  using Handler = std::function<std::string(const json&)>;

  ScriptedBackend() {
    for (const char* hook : {"connect", "subscribe", "publish", "refresh"}) {
      const std::string name = hook;
      server_.Post(
          "/hooks/" + name, [this, name](const httplib::Request& req, httplib::Response& res) {
            Handler handler;
            {
              std::lock_guard<std::mutex> lock(mu_);
              requests_[name].push_back(json::parse(req.body, nullptr, false));
              handler = handlers_[name];
            }
            if (!handler) {
              res.status = 404;
              return;
            }
            res.set_content(handler(json::parse(req.body, nullptr, false)), "application/json");
          });
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptedBackend() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks"; }
  void on(const std::string& hook, Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handlers_[hook] = std::move(handler);
  }
  std::vector<json> requests(const std::string& hook) {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_[hook];
  }
  // Waits until `hook` was called at least `count` times.
  bool waitCalls(const std::string& hook, size_t count, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (requests(hook).size() >= count) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, std::vector<json>> requests_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// The same decisions over gRPC: subscribe allows channels ending in ":ok"; connect makes
// every connection user "grpc-user" with channel "news".
class GrpcDecider final : public herald::v1::HookService::Service {
 public:
  GrpcDecider() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~GrpcDecider() override { server_->Shutdown(); }
  std::string url() const { return "grpc://127.0.0.1:" + std::to_string(port_); }

  grpc::Status Subscribe(grpc::ServerContext*, const herald::v1::SubscribeHookRequest* req,
                         herald::v1::SubscribeHookReply* reply) override {
    const std::string& c = req->channel();
    if (c.size() < 3 || c.compare(c.size() - 3, 3, ":ok") != 0) {
      reply->mutable_error()->set_code("not_ok");
      reply->mutable_error()->set_message("only :ok channels");
    } else {
      reply->set_info(R"({"by":"grpc","user":")" + req->caller().user() + R"("})");
    }
    return grpc::Status::OK;
  }
  grpc::Status Connect(grpc::ServerContext*, const herald::v1::ConnectHookRequest*,
                       herald::v1::ConnectHookReply* reply) override {
    reply->set_user("grpc-user");
    reply->add_channels("news");
    return grpc::Status::OK;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::string aliceToken() {
  return signToken("HS256", kTestJwtSecret, {{"sub", "alice"}, {"exp", nowSeconds() + 3600}},
                   "test");
}

class HookDecisionsTest : public ::testing::Test {
 protected:
  // A config with endpoint "backend" (the scripted one) and "down" (nothing listens), and
  // namespaces: doc (rule hook, via backend), strict / lenient (rule hook via "down" under
  // deny / allow), chat (client publish through the publish hook).
  json config(uint32_t timeout_ms = 2000) {
    json c = defaultControlConfig();
    c["hooks"] = {{"endpoints",
                   {{{"name", "backend"}, {"url", backend_.url()}, {"timeout_ms", timeout_ms}},
                    {{"name", "down"}, {"url", "http://127.0.0.1:1"}, {"timeout_ms", 500}},
                    {{"name", "down-allow"},
                     {"url", "http://127.0.0.1:1"},
                     {"timeout_ms", 500},
                     {"on_failure", "allow"}}}}};
    c["namespaces"] = json::array(
        {{{"name", "doc"}, {"subscribe_rule", "hook"}, {"subscribe_hook", "backend"}},
         {{"name", "strict"}, {"subscribe_rule", "hook"}, {"subscribe_hook", "down"}},
         {{"name", "lenient"}, {"subscribe_rule", "hook"}, {"subscribe_hook", "down-allow"}},
         {{"name", "chat"}, {"allow_client_publish", true}, {"publish_hook", "backend"}}});
    return c;
  }
  void start(const json& c) {
    cluster_ = std::make_unique<Cluster>(c);
    cluster_->startControl();
    cluster_->startNode();
    ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  }
  std::unique_ptr<WsClient> open(const std::string& query,
                                 const std::map<std::string, std::string>& headers = {}) {
    auto ws = std::make_unique<WsClient>(cluster_->wsUrl(0, query), headers);
    EXPECT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    return ws;
  }
  static json subscribe(WsClient& ws, int id, const json& channels) {
    ws.send(json({{"type", "subscribe"}, {"id", id}, {"channels", channels}}).dump());
    return ws.nextAnswer(10s);
  }

  ScriptedBackend backend_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(HookDecisionsTest, SubscribeHookAllowsWithInfoDeniesWithItsCodeAndIsAllOrNothing) {
  backend_.on("subscribe", [](const json& req) -> std::string {
    if (req["channel"] == "doc:open") {
      return R"({"info":{"title":"Open doc","size":12345678901234567890123}})";
    }
    return R"({"error":{"code":"not_member","message":"you are not in this document"}})";
  });
  start(config());
  auto ws = open("token=" + aliceToken());
  ASSERT_TRUE(ws->nextOfType("connected", 10s).has_value());

  ws->send(R"({"type":"subscribe","id":1,"channels":["doc:open","news"]})");
  auto text = ws->nextText(10s);
  ASSERT_TRUE(text.has_value());
  EXPECT_NE(text->find(R"("doc:open":{"title":"Open doc","size":12345678901234567890123})"),
            std::string::npos)
      << "the backend's info reaches the client as written: " << *text;
  const json reply = json::parse(*text);
  EXPECT_EQ(reply["type"], "reply");
  EXPECT_EQ(reply["id"], 1);
  EXPECT_EQ(reply["channels"], json::array({"doc:open", "news"}));
  const auto asked = backend_.requests("subscribe");
  ASSERT_EQ(asked.size(), 1u) << "only the hook namespace's channel is asked about";
  EXPECT_EQ(asked[0]["channel"], "doc:open");
  EXPECT_EQ(asked[0]["caller"]["user"], "alice");
  EXPECT_FALSE(asked[0]["caller"]["client"].get<std::string>().empty());

  ASSERT_TRUE(cluster_->waitInterest("doc:open", 1));
  cluster_->publish("doc:open", R"({"edit":1})");
  auto message = ws->nextOfType("message", 10s);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ((*message)["channel"], "doc:open");

  // One refused channel refuses the frame: "other" was not subscribed either.
  const json denied = subscribe(*ws, 2, {"other", "doc:secret"});
  EXPECT_EQ(denied["type"], "error");
  EXPECT_EQ(denied["id"], 2);
  EXPECT_EQ(denied["code"], "permission_denied");
  EXPECT_EQ(denied["channel"], "doc:secret");
  EXPECT_EQ(denied["backend"]["code"], "not_member");
  EXPECT_EQ(denied["backend"]["message"], "you are not in this document");
  ws->send(R"({"type":"unsubscribe","id":3,"channels":["other"]})");
  EXPECT_EQ(ws->nextAnswer(10s)["type"], "reply");
  ws->send(R"({"type":"publish","id":4,"channel":"doc:open","data":1})");
  EXPECT_EQ(ws->nextAnswer(10s)["code"], "permission_denied")
      << "doc allows no client publish at all";
}

TEST_F(HookDecisionsTest, AnswersWithTtlAreReusedForTheSameUserOnly) {
  backend_.on("subscribe", [](const json&) { return R"({"ttl_seconds":60})"; });
  start(config());
  auto first = open("token=" + aliceToken());
  ASSERT_TRUE(first->nextOfType("connected", 10s).has_value());
  EXPECT_EQ(subscribe(*first, 1, {"doc:a"})["type"], "reply");
  auto second = open("token=" + aliceToken());
  ASSERT_TRUE(second->nextOfType("connected", 10s).has_value());
  EXPECT_EQ(subscribe(*second, 1, {"doc:a"})["type"], "reply");
  EXPECT_EQ(backend_.requests("subscribe").size(), 1u)
      << "alice's second subscription reused the answer";

  auto anonymous = open("");
  ASSERT_TRUE(anonymous->nextOfType("connected", 10s).has_value());
  EXPECT_EQ(subscribe(*anonymous, 1, {"doc:a"})["type"], "reply");
  EXPECT_EQ(backend_.requests("subscribe").size(), 2u) << "an anonymous connection is asked";
  EXPECT_EQ(subscribe(*first, 2, {"doc:b"})["type"], "reply");
  EXPECT_EQ(backend_.requests("subscribe").size(), 3u) << "another channel is asked";

  auto samples = parseSamples(httpGet(cluster_->nodeAddress(0), "/metrics").body);
  EXPECT_EQ(samples[R"(herald_node_hook_calls_total{hook="subscribe",result="cached"})"], 1);
  EXPECT_EQ(samples[R"(herald_node_hook_calls_total{hook="subscribe",result="allowed"})"], 3);
}

TEST_F(HookDecisionsTest, AFailedHookDeniesByDefaultAndAllowsWhenConfigured) {
  start(config());
  auto ws = open("");
  ASSERT_TRUE(ws->nextOfType("connected", 10s).has_value());
  const json strict = subscribe(*ws, 1, {"strict:x"});
  EXPECT_EQ(strict["type"], "error");
  EXPECT_EQ(strict["code"], "unavailable");
  EXPECT_NE(strict["message"].get<std::string>().find("strict:x"), std::string::npos);
  const json lenient = subscribe(*ws, 2, {"lenient:x"});
  EXPECT_EQ(lenient["type"], "reply") << lenient.dump();
  EXPECT_EQ(lenient["channels"], json::array({"lenient:x"}));

  // The backend answering something that is not a reply, or too late, is a failure too.
  backend_.on("subscribe", [](const json& req) -> std::string {
    if (req["channel"] == "doc:slow") {
      std::this_thread::sleep_for(1500ms);
    }
    return "[]";
  });
  cluster_.reset();
  start(config(1000));
  ws = open("");
  ASSERT_TRUE(ws->nextOfType("connected", 10s).has_value());
  EXPECT_EQ(subscribe(*ws, 3, {"doc:garbage"})["code"], "unavailable");
  EXPECT_EQ(subscribe(*ws, 4, {"doc:slow"})["code"], "unavailable");
}

TEST_F(HookDecisionsTest, UrlSubscriptionsWaitForTheHookBeforeConnected) {
  backend_.on("subscribe", [](const json& req) -> std::string {
    return req["channel"] == "doc:yes" ? R"({})" : R"({"error":{"code":"nope"}})";
  });
  start(config());
  auto ws = open("subscribe=doc:yes,news");
  auto connected = ws->next(10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["type"], "connected");
  EXPECT_EQ((*connected)["subscribed"], json::array({"doc:yes", "news"}));

  auto refused = open("subscribe=doc:no,news");
  connected = refused->next(10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["type"], "connected");
  EXPECT_EQ((*connected)["subscribed"], json::array()) << "all or nothing";
  auto error = refused->next(10s);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ((*error)["type"], "error");
  EXPECT_EQ((*error)["backend"]["code"], "nope");
}

TEST_F(HookDecisionsTest, ConnectHookSaysWhoTheClientIsFromItsCookie) {
  backend_.on("connect", [](const json& req) -> std::string {
    const std::string cookie = req["headers"].value("cookie", "");
    if (cookie == "session=alice-session") {
      return R"({"user":"alice","channels":["news"],"info":{"plan":"pro"}})";
    }
    if (cookie == "session=banned") {
      return R"({"error":{"code":"banned","message":"this account is closed"}})";
    }
    return R"({})";
  });
  json c = config();
  c["hooks"]["connect"] = "backend";
  c["hooks"]["connect_headers"] = {"Cookie"};
  c["auth"]["allow_anonymous"] = false;
  start(c);

  auto alice = open("lang=en&token=&subscribe=public",
                    {{"Cookie", "session=alice-session"}, {"X-Secret", "not passed"}});
  auto connected = alice->next(10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["type"], "connected") << connected->dump();
  EXPECT_EQ((*connected)["user"], "alice");
  EXPECT_EQ((*connected)["subscribed"], json::array({"news", "public"}));
  EXPECT_EQ((*connected)["info"]["plan"], "pro");
  const auto asked = backend_.requests("connect");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0]["query"], "lang=en&subscribe=public") << "never the token";
  EXPECT_EQ(asked[0]["headers"], json({{"cookie", "session=alice-session"}}))
      << "only the allow-listed headers";
  EXPECT_FALSE(asked[0]["ip"].get<std::string>().empty());

  auto banned = open("", {{"Cookie", "session=banned"}});
  auto error = banned->next(10s);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ((*error)["type"], "error");
  EXPECT_EQ((*error)["code"], "unauthorized");
  EXPECT_EQ((*error)["backend"]["code"], "banned");
  EXPECT_EQ(banned->waitClosed(10s), 4003);

  // No user from the backend: an anonymous connection, though anonymous access is off.
  auto guest = open("");
  connected = guest->next(10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["type"], "connected");
  EXPECT_EQ((*connected)["user"], "");

  // A token skips the hook (connect_always is off).
  auto with_token = open("token=" + aliceToken());
  ASSERT_TRUE(with_token->nextOfType("connected", 10s).has_value());
  EXPECT_EQ(backend_.requests("connect").size(), 3u);
}

TEST_F(HookDecisionsTest, AConnectHookThatFailsClosesWithTryAgainLater) {
  json c = config();
  c["hooks"]["connect"] = "down";
  start(c);
  auto ws = open("");
  auto error = ws->next(10s);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ((*error)["type"], "error");
  EXPECT_EQ((*error)["code"], "unavailable");
  EXPECT_EQ(ws->waitClosed(10s), 1013);
}

TEST_F(HookDecisionsTest, PublishHookRefusesOrRewritesClientPublications) {
  backend_.on("publish", [](const json& req) -> std::string {
    if (req["data"]["text"] == "spam") {
      return R"({"error":{"code":"spam","message":"looks like spam"}})";
    }
    return R"({"data":{"text":)" + req["data"]["text"].dump() + R"(,"checked":true}})";
  });
  start(config());
  auto reader = open("subscribe=chat:room");
  ASSERT_TRUE(reader->nextOfType("connected", 10s).has_value());
  auto writer = open("token=" + aliceToken());
  ASSERT_TRUE(writer->nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(cluster_->waitInterest("chat:room", 1));

  writer->send(R"({"type":"publish","id":1,"channel":"chat:room","data":{"text":"spam"}})");
  const json refused = writer->nextAnswer(10s);
  EXPECT_EQ(refused["type"], "error");
  EXPECT_EQ(refused["code"], "permission_denied");
  EXPECT_EQ(refused["backend"]["code"], "spam");

  writer->send(R"({"type":"publish","id":2,"channel":"chat:room","data":{"text":"hello"}})");
  const json published = writer->nextAnswer(10s);
  EXPECT_EQ(published["type"], "reply") << published.dump();
  auto message = reader->nextOfType("message", 10s);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ((*message)["data"], json({{"text", "hello"}, {"checked", true}}))
      << "the backend's version was published, and only it";
  const auto asked = backend_.requests("publish");
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1]["caller"]["user"], "alice");
  EXPECT_EQ(asked[1]["channel"], "chat:room");
}

TEST_F(HookDecisionsTest, RefreshHookExtendsAConnectionOrLetsItExpire) {
  std::atomic<bool> extend{true};
  backend_.on("connect", [](const json&) {
    return R"({"user":"bob","expire_at":)" + std::to_string(nowSeconds() + 2) + "}";
  });
  backend_.on("refresh", [&extend](const json& req) -> std::string {
    if (!extend) {
      return R"({"error":{"code":"session_over"}})";
    }
    return R"({"expire_at":)" + std::to_string(req["expire_at"].get<int64_t>() + 3600) + "}";
  });
  json c = config();
  c["hooks"]["connect"] = "backend";
  c["hooks"]["refresh"] = "backend";
  c["auth"]["leeway_seconds"] = 0;
  start(c);
  auto kept = open("");
  ASSERT_TRUE(kept->nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(backend_.waitCalls("refresh", 1, 10s));
  EXPECT_EQ(backend_.requests("refresh")[0]["caller"]["user"], "bob");
  // Its first expiry passes (2 s) and the sweep (1 s) does not close it.
  EXPECT_FALSE(kept->waitClosed(4s).has_value()) << "extended by the backend";

  extend = false;
  auto ended = open("");
  ASSERT_TRUE(ended->nextOfType("connected", 10s).has_value());
  EXPECT_EQ(ended->waitClosed(10s), 4002) << "the backend declined: closed at its expiry";
}

TEST_F(HookDecisionsTest, AGrpcBackendDecidesTheSameWay) {
  GrpcDecider decider;
  json c = defaultControlConfig();
  c["hooks"] = {{"endpoints", {{{"name", "g"}, {"url", decider.url()}}}}, {"connect", "g"}};
  c["namespaces"] =
      json::array({{{"name", "room"}, {"subscribe_rule", "hook"}, {"subscribe_hook", "g"}}});
  start(c);
  auto ws = open("");
  auto connected = ws->nextOfType("connected", 10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["user"], "grpc-user");
  EXPECT_EQ((*connected)["subscribed"], json::array({"news"}));
  const json allowed = subscribe(*ws, 1, {"room:ok"});
  EXPECT_EQ(allowed["type"], "reply");
  EXPECT_EQ(allowed["info"]["room:ok"], json({{"by", "grpc"}, {"user", "grpc-user"}}));
  const json denied = subscribe(*ws, 2, {"room:no"});
  EXPECT_EQ(denied["code"], "permission_denied");
  EXPECT_EQ(denied["backend"]["code"], "not_ok");
}

TEST_F(HookDecisionsTest, NamespacesNamingNoEndpointAreRefused) {
  json c = config();
  c["namespaces"].push_back(
      {{"name", "typo"}, {"subscribe_rule", "hook"}, {"subscribe_hook", "bakcend"}});
  TempDir dir;
  const std::string file = dir.path() + "/control.json";
  std::ofstream(file) << c.dump();
  auto r = runCommand(controlBinary(),
                      {"--config", file, "--data-dir", dir.path() + "/state", "--grpc-listen",
                       "127.0.0.1:0", "--http-listen", "off"},
                      30s);
  EXPECT_NE(r.exit_code, 0) << "herald-control refuses to start";
  EXPECT_NE(r.err.find("namespace 'typo': no hook endpoint named 'bakcend'"), std::string::npos)
      << r.err;

  start(config());
  grpc::ClientContext ctx;
  herald::v1::CreateNamespaceRequest req;
  req.mutable_namespace_()->set_name("later");
  req.mutable_namespace_()->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_HOOK);
  req.mutable_namespace_()->set_subscribe_hook("nothing-by-this-name");
  herald::v1::CreateNamespaceResponse resp;
  const grpc::Status s = cluster_->api().CreateNamespace(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("nothing-by-this-name"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
