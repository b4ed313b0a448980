// The session's side of the deciding hooks (session_hooks.cc) on a shard without a loop: the
// backend is a scripted transport on HookCaller's real worker threads, and answers come back
// through ShardState::post into a queue the test runs when it chooses — so a client can
// leave, or send more, while the backend is still deciding.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include <gtest/gtest.h>

#include "dataplane/hooks/hook_caller.h"
#include "dataplane/session/session_harness.h"
#include "support/jwt_tokens.h"

namespace herald::node {
namespace {

using namespace std::chrono_literals;
using testing::FakeClient;
using testing::kJwtSecret;
using testing::makeSettings;
using testing::ShardHarness;

// Answers each call at once: subscribe allows channels ending in ":ok" (else "nope");
// refresh answers `refresh_to` (0: declines).
class ScriptedTransport : public HookTransport {
 public:
  explicit ScriptedTransport(std::atomic<int64_t>& refresh_to) : refresh_to_(refresh_to) {}
  Status call(HookMethod method, const google::protobuf::Message& request,
              google::protobuf::Message* reply, std::chrono::milliseconds) override {
    if (method == HookMethod::kSubscribe) {
      const auto& req = static_cast<const herald::v1::SubscribeHookRequest&>(request);
      auto* out = static_cast<herald::v1::SubscribeHookReply*>(reply);
      const std::string& c = req.channel();
      if (c.size() < 3 || c.compare(c.size() - 3, 3, ":ok") != 0) {
        out->mutable_error()->set_code("nope");
      }
      return Status::ok();
    }
    if (method == HookMethod::kRefresh) {
      auto* out = static_cast<herald::v1::RefreshHookReply*>(reply);
      if (refresh_to_ == 0) {
        out->mutable_error()->set_code("declined");
      } else {
        out->set_expire_at(refresh_to_);
      }
      return Status::ok();
    }
    return Status(ErrorCode::kUnavailable, "not scripted");
  }
  void cancel() override {}

 private:
  std::atomic<int64_t>& refresh_to_;
};

NodeSettingsPtr hookSettings() {
  return makeSettings([](herald::v1::ConfigSnapshot* s) {
    s->mutable_auth()->set_allow_anonymous(true);
    auto* doc = s->add_namespaces();
    doc->set_name("doc");
    doc->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_HOOK);
    doc->set_subscribe_hook("backend");
    doc->set_allow_client_publish(true);
  });
}

class SessionHooksTest : public ::testing::Test {
 protected:
  SessionHooksTest()
      : hooks_([this](const HookTarget&, const std::string&) {
          return [this] { return std::make_unique<ScriptedTransport>(refresh_to_); };
        }),
        shard_(hookSettings()) {
    herald::v1::HookSettings settings;
    auto* e = settings.add_endpoints();
    e->set_name("backend");
    e->set_url("http://127.0.0.1:1");
    settings.set_refresh("backend");
    hooks_.configure(settings);
    shard_.state->node.hooks = &hooks_;
    shard_.state->post = [this](std::function<void()> task) {
      std::lock_guard<std::mutex> lock(mu_);
      posted_.push_back(std::move(task));
      cv_.notify_all();
    };
  }
  ~SessionHooksTest() override { hooks_.stop(); }

  // Waits for `count` answers to be posted to the shard, then runs them on this thread.
  bool runPosted(size_t count) {
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, 10s, [&] { return posted_.size() >= count; })) {
        return false;
      }
      tasks.swap(posted_);
    }
    for (auto& task : tasks) {
      task();
    }
    return true;
  }

  std::atomic<int64_t> refresh_to_{0};
  HookCaller hooks_;
  ShardHarness shard_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> posted_;
};

TEST_F(SessionHooksTest, ASubscribeFrameIsAnsweredOnceEveryChannelIsDecided) {
  FakeClient& c = shard_.connect("/ws");
  ASSERT_EQ(c.received.size(), 1u);
  c.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"doc:a:ok", "news", "doc:b:ok"}}});
  EXPECT_EQ(c.received.size(), 1u) << "nothing until the backend answered";
  EXPECT_EQ(shard_.state->channels.find("news"), nullptr) << "all or nothing: not yet";
  ASSERT_TRUE(runPosted(2));
  EXPECT_EQ(c.last()["type"], "reply");
  EXPECT_EQ(c.last()["channels"], nlohmann::json({"doc:a:ok", "news", "doc:b:ok"}));
  EXPECT_NE(shard_.state->channels.find("doc:a:ok"), nullptr);
  EXPECT_EQ(shard_.state->counters.subscriptions.load(), 3u);

  c.send({{"type", "subscribe"}, {"id", 2}, {"channels", {"doc:c:ok", "doc:d"}}});
  ASSERT_TRUE(runPosted(2));
  EXPECT_EQ(c.last()["code"], "permission_denied");
  EXPECT_EQ(c.last()["backend"]["code"], "nope");
  EXPECT_EQ(shard_.state->channels.find("doc:c:ok"), nullptr);

  // Published to only where it is subscribed, which the backend allowed.
  c.send({{"type", "publish"}, {"id", 3}, {"channel", "doc:zzz:ok"}, {"data", 1}});
  EXPECT_EQ(c.last()["code"], "permission_denied");
}

TEST_F(SessionHooksTest, AnAnswerForAClientThatLeftTouchesNothing) {
  FakeClient& c = shard_.connect("/ws");
  c.send({{"type", "subscribe"}, {"id", 1}, {"channels", {"doc:a:ok"}}});
  c.open = false;
  c.session.closed();
  const size_t before = c.received.size();
  ASSERT_TRUE(runPosted(1));
  EXPECT_EQ(c.received.size(), before);
  EXPECT_EQ(shard_.state->channels.find("doc:a:ok"), nullptr);
  EXPECT_EQ(shard_.state->hook_calls.size(), 0u);
}

TEST_F(SessionHooksTest, AtMostSixteenChannelsOfAConnectionAreWithTheBackend) {
  FakeClient& c = shard_.connect("/ws");
  nlohmann::json ten = nlohmann::json::array();
  nlohmann::json seven = nlohmann::json::array();
  for (int i = 0; i < 10; ++i) {
    ten.push_back("doc:a" + std::to_string(i) + ":ok");
  }
  for (int i = 0; i < 7; ++i) {
    seven.push_back("doc:b" + std::to_string(i) + ":ok");
  }
  c.send({{"type", "subscribe"}, {"id", 1}, {"channels", ten}});
  c.send({{"type", "subscribe"}, {"id", 2}, {"channels", seven}});
  EXPECT_EQ(c.last()["id"], 2);
  EXPECT_EQ(c.last()["code"], "limit_exceeded");
  ASSERT_TRUE(runPosted(10));
  EXPECT_EQ(c.last()["id"], 1);
  EXPECT_EQ(c.last()["type"], "reply");
  c.send({{"type", "subscribe"}, {"id", 3}, {"channels", seven}});
  ASSERT_TRUE(runPosted(7));
  EXPECT_EQ(c.last()["type"], "reply") << "answered channels free their places";
  // Held channels are not asked about again.
  c.send({{"type", "subscribe"}, {"id", 4}, {"channels", ten}});
  EXPECT_EQ(c.last()["id"], 4);
  EXPECT_EQ(c.last()["type"], "reply");
}

TEST_F(SessionHooksTest, WhileTheGreetingWaitsForTheBackendNoFrameIsAnswered) {
  FakeClient& c = shard_.connect("/ws?subscribe=doc:x:ok");
  EXPECT_TRUE(c.received.empty()) << "connected waits for the subscribe hook";
  c.send({{"type", "ping"}, {"id", 1}});
  ASSERT_EQ(c.received.size(), 1u);
  EXPECT_EQ(c.last()["code"], "bad_request");
  EXPECT_EQ(c.last()["id"], 1);
  ASSERT_TRUE(runPosted(1));
  EXPECT_EQ(c.last()["type"], "connected");
  EXPECT_EQ(c.last()["subscribed"], nlohmann::json({"doc:x:ok"}));
  c.send({{"type", "ping"}, {"id", 2}});
  EXPECT_EQ(c.last()["type"], "pong");
}

TEST_F(SessionHooksTest, TheRefreshHookIsAskedOnceNearExpiryAndItsAnswerHolds) {
  const int64_t now = herald::testing::nowSeconds();
  FakeClient& c = shard_.connect(
      "/ws?token=" +
      herald::testing::signToken("HS256", kJwtSecret, {{"sub", "alice"}, {"exp", now + 600}}));
  c.session.refreshIfDue(now);
  EXPECT_EQ(shard_.state->hook_calls.size(), 0u) << "not due ten minutes ahead";

  refresh_to_ = now + 7200;
  c.session.refreshIfDue(now + 590);
  c.session.refreshIfDue(now + 591);
  ASSERT_TRUE(runPosted(1));
  EXPECT_EQ(shard_.state->hook_calls.size(), 0u);
  EXPECT_EQ(c.session.deadlinePassed(now + 3600, 0, 5000), 0) << "extended by the backend";

  refresh_to_ = 0;  // declines the next one
  c.session.refreshIfDue(now + 7190);
  ASSERT_TRUE(runPosted(1));
  c.session.refreshIfDue(now + 7191);
  EXPECT_EQ(shard_.state->hook_calls.size(), 0u) << "a declined expiry is not asked again";
  EXPECT_EQ(c.session.deadlinePassed(now + 7200, 0, 5000), kCloseTokenExpired);
}

}  // namespace
}  // namespace herald::node
