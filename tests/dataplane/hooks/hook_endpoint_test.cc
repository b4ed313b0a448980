// HookEndpoint and HookCaller with a transport the test controls: bounded calls, deadlines
// the watchdog enforces, answers that always come (busy, stopped, reconfigured).
#include "dataplane/hooks/hook_caller.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include <gtest/gtest.h>

namespace herald::node {
namespace {

using namespace std::chrono_literals;

// Calls wait until the test opens the gate (then answer with their method's name) or until
// they are cancelled (then fail as a cut connection does).
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool honour_cancel = true;  // false: like a connect in progress, deaf to cancel()
  std::atomic<int> calls{0};
  std::atomic<int> cancels{0};
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

class GatedTransport : public HookTransport {
 public:
  explicit GatedTransport(Gate& gate) : gate_(gate) {}
  Status call(HookMethod method, const google::protobuf::Message& message,
              google::protobuf::Message* out, std::chrono::milliseconds) override {
    ++gate_.calls;
    std::unique_lock<std::mutex> lock(gate_.mu);
    cancelled_ = false;
    gate_.cv.wait_for(lock, 30s,
                      [this] { return gate_.open || (cancelled_ && gate_.honour_cancel); });
    if (!gate_.open) {
      return Status(ErrorCode::kUnavailable, "cancelled");
    }
    EXPECT_EQ(method, HookMethod::kRpc);
    const auto& request = static_cast<const herald::v1::RpcHookRequest&>(message);
    static_cast<herald::v1::RpcHookReply*>(out)->set_data("\"" + request.method() + "\"");
    return Status::ok();
  }
  void cancel() override {
    ++gate_.cancels;
    std::lock_guard<std::mutex> lock(gate_.mu);
    cancelled_ = true;
    gate_.cv.notify_all();
  }

 private:
  Gate& gate_;
  bool cancelled_ = false;  // under gate_.mu
};

HookCaller::FactoryMaker gated(Gate& gate) {
  return [&gate](const HookTarget&, const std::string&) {
    return [&gate] { return std::make_unique<GatedTransport>(gate); };
  };
}

herald::v1::HookSettings settings(uint32_t in_flight, uint32_t timeout_ms = 5000) {
  herald::v1::HookSettings s;
  auto* e = s.add_endpoints();
  e->set_name("backend");
  e->set_url("http://127.0.0.1:1");
  e->set_max_in_flight(in_flight);
  e->set_timeout_ms(timeout_ms);
  s.set_rpc("backend");
  return s;
}

using Answer = std::shared_ptr<std::promise<Result<herald::v1::RpcHookReply>>>;

Answer ask(HookCaller& hooks, const std::string& method) {
  auto answer = std::make_shared<std::promise<Result<herald::v1::RpcHookReply>>>();
  herald::v1::RpcHookRequest request;
  request.set_method(method);
  hooks.rpc(std::move(request),
            [answer](Result<herald::v1::RpcHookReply> r) { answer->set_value(std::move(r)); });
  return answer;
}

Result<herald::v1::RpcHookReply> await(const Answer& answer) {
  auto future = answer->get_future();
  if (future.wait_for(20s) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within 20 s";
    return Status(ErrorCode::kInternal, "test: no answer");
  }
  return future.get();
}

TEST(HookEndpointTest, CallsBeyondMaxInFlightAreRefusedAtOnce) {
  Gate gate;
  HookCaller hooks(gated(gate));
  hooks.configure(settings(2));
  auto first = ask(hooks, "a");
  auto second = ask(hooks, "b");
  auto refused = await(ask(hooks, "c"));
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), ErrorCode::kLimitExceeded);
  gate.release();
  auto a = await(first);
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->data(), "\"a\"");
  EXPECT_TRUE(await(second).isOk());
  EXPECT_TRUE(await(ask(hooks, "d")).isOk()) << "slots free again";
}

TEST(HookEndpointTest, AHangingBackendIsCutOffAtTheDeadline) {
  Gate gate;  // never opened: the backend never answers
  HookCaller hooks(gated(gate));
  hooks.configure(settings(4, 200));
  // Without the watchdog the transport would wait 30 s, past await()'s 20 s.
  auto cut = await(ask(hooks, "a"));
  ASSERT_FALSE(cut.isOk());
  EXPECT_EQ(cut.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(gate.cancels.load(), 1) << "the watchdog cancelled the call";
  EXPECT_TRUE(await(ask(hooks, "b")).status().code() == ErrorCode::kUnavailable)
      << "the worker is free for the next call";
}

TEST(HookEndpointTest, ACallThatWaitedPastItsDeadlineIsNotMade) {
  Gate gate;
  HookCaller hooks(gated(gate));
  // Every worker busy (deaf to cancel) and one call waiting, 300 ms each; the workers come
  // free only after the waiting call's time is up.
  gate.honour_cancel = false;
  hooks.configure(settings(HookEndpoint::kMaxWorkers + 1, 300));
  std::vector<Answer> busy;
  for (uint32_t i = 0; i < HookEndpoint::kMaxWorkers; ++i) {
    busy.push_back(ask(hooks, "a"));
  }
  auto waiting = ask(hooks, "b");
  std::this_thread::sleep_for(600ms);  // past every deadline: what is measured is time itself
  gate.release();
  for (auto& answer : busy) {
    EXPECT_TRUE(await(answer).isOk()) << "answered, if late";
  }
  auto late = await(waiting);
  ASSERT_FALSE(late.isOk());
  EXPECT_EQ(late.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(late.status().message().find("not called"), std::string::npos);
  EXPECT_EQ(gate.calls.load(), static_cast<int>(HookEndpoint::kMaxWorkers))
      << "the late call never reached the backend";
}

TEST(HookEndpointTest, StoppingAnswersEveryCallAndReturnsAtOnce) {
  Gate gate;  // never opened
  HookCaller hooks(gated(gate));
  EXPECT_EQ(await(ask(hooks, "a")).status().code(), ErrorCode::kNotFound) << "no rpc hook";

  hooks.configure(settings(64, 30000));
  std::vector<Answer> answers;
  for (int i = 0; i < 40; ++i) {  // more than the 16 workers: some wait in the queue
    answers.push_back(ask(hooks, "x"));
  }
  // Wait until every worker holds a call, so that stopping has calls to cancel.
  for (int i = 0; i < 2000 && gate.calls.load() < static_cast<int>(HookEndpoint::kMaxWorkers);
       ++i) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(gate.calls.load(), static_cast<int>(HookEndpoint::kMaxWorkers));
  hooks.stop();
  EXPECT_EQ(gate.cancels.load(), static_cast<int>(HookEndpoint::kMaxWorkers))
      << "stopping cancels the calls in progress rather than waiting out their 30 s";
  for (auto& answer : answers) {
    auto r = await(answer);
    ASSERT_FALSE(r.isOk());
    EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable) << r.status().message();
  }
  EXPECT_EQ(await(ask(hooks, "after")).status().code(), ErrorCode::kNotFound);
}

TEST(HookEndpointTest, AnUnchangedEndpointSurvivesAReconfigure) {
  Gate gate;
  std::atomic<int> factories{0};
  HookCaller hooks([&](const HookTarget&, const std::string&) {
    ++factories;
    return [&gate] { return std::make_unique<GatedTransport>(gate); };
  });
  gate.release();
  hooks.configure(settings(4));
  hooks.configure(settings(4));
  EXPECT_EQ(factories.load(), 1);
  hooks.configure(settings(8));  // changed: made anew
  EXPECT_EQ(factories.load(), 2);
  EXPECT_TRUE(await(ask(hooks, "a")).isOk());
}

TEST(HookEndpointTest, SignaturesAreHmacSha256OfTimestampAndBody) {
  // The expected value from Python's hmac module, an implementation of its own:
  // hmac.new(b"Jefe", b"1700000000.what do ya want for nothing?", hashlib.sha256).hexdigest()
  const std::string sig = hookSignature("Jefe", 1700000000, "what do ya want for nothing?");
  EXPECT_EQ(sig,
            "t=1700000000,sha256="
            "1cdd0650c8be1cb0974b1788d458b1e781206cfef59b85faafc582d2e182c57e");
  EXPECT_NE(sig, hookSignature("Jefe", 1700000001, "what do ya want for nothing?"));
  EXPECT_NE(sig, hookSignature("jefe", 1700000000, "what do ya want for nothing?"));
}

}  // namespace
}  // namespace herald::node
