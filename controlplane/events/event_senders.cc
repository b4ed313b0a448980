#include "controlplane/events/event_senders.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/hook_grpc_channel.h"
#include "common/hook_http_client.h"
#include "common/hook_settings.h"
#include "common/hook_signature.h"
#include "herald/v1/hooks.grpc.pb.h"

namespace herald::control {

namespace {

using json = nlohmann::json;

// Largest answer body read from a receiver (its content is not used; only its status is).
constexpr size_t kMaxAnswerBytes = 64 * 1024;

class HttpEventSender : public EventSender {
 public:
  HttpEventSender(const HookTarget& target, std::string secret, std::chrono::milliseconds timeout)
      : path_(target.path + "/events"), secret_(std::move(secret)), timeout_(timeout) {
    client_ = makeHookHttpClient(target);
    const auto seconds = static_cast<time_t>(timeout.count() / 1000);
    const auto micros = static_cast<time_t>((timeout.count() % 1000) * 1000);
    client_->set_connection_timeout(seconds, micros);
    client_->set_read_timeout(seconds, micros);
    client_->set_write_timeout(seconds, micros);
    watchdog_ = std::thread([this] { watch(); });
  }

  ~HttpEventSender() override {
    cancel();
    watchdog_.join();
  }

  Status send(const herald::v1::EventBatch& batch) override {
    httplib::Request req;
    req.method = "POST";
    req.path = path_;
    req.body = eventBatchJson(batch);
    req.set_header("Content-Type", "application/json");
    if (!secret_.empty()) {
      req.set_header(kHookSignatureHeader, hookSignature(secret_, unixSeconds(), req.body));
    }
    size_t answer_bytes = 0;
    req.content_receiver = [&answer_bytes](const char*, size_t n, uint64_t, uint64_t) {
      answer_bytes += n;
      return answer_bytes <= kMaxAnswerBytes;  // read, never kept; too much ends the call
    };
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        return Status(ErrorCode::kUnavailable, "stopping");
      }
      // A deadline for the whole call: a receiver trickling bytes cannot hold it longer.
      deadline_ = std::chrono::steady_clock::now() + timeout_;
      in_call_ = true;
    }
    wake_.notify_all();
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool answered = client_->send(req, res, error);
    bool cut = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_call_ = false;
      cut = cut_;
      cut_ = false;
    }
    if (!answered) {
      if (answer_bytes > kMaxAnswerBytes) {
        return Status(ErrorCode::kUnavailable, "the receiver's answer is over 64 KiB");
      }
      return Status(
          ErrorCode::kUnavailable,
          cut ? "no answer from the receiver within " + std::to_string(timeout_.count()) + " ms"
              : "the receiver could not be reached (" + httplib::to_string(error) + ")");
    }
    if (res.status < 200 || res.status > 299) {
      return Status(ErrorCode::kUnavailable,
                    "the receiver answered HTTP " + std::to_string(res.status));
    }
    return Status::ok();
  }

  void cancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    wake_.notify_all();
    client_->stop();
  }

 private:
  // Cuts a call still running at its deadline (shuts its socket down).
  void watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cancelled_) {
      if (!in_call_) {
        wake_.wait(lock);
        continue;
      }
      if (std::chrono::steady_clock::now() >= deadline_) {
        cut_ = true;
        in_call_ = false;
        lock.unlock();
        client_->stop();
        lock.lock();
        continue;
      }
      wake_.wait_until(lock, deadline_);
    }
  }

  std::unique_ptr<httplib::ClientImpl> client_;
  const std::string path_;
  const std::string secret_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool cancelled_ = false;
  bool in_call_ = false;
  bool cut_ = false;  // the watchdog ended the call
  std::chrono::steady_clock::time_point deadline_;
  std::thread watchdog_;
};

class GrpcEventSender : public EventSender {
 public:
  GrpcEventSender(const HookTarget& target, std::string secret, std::chrono::milliseconds timeout)
      : stub_(herald::v1::HookService::NewStub(makeHookGrpcChannel(target))),
        secret_(std::move(secret)),
        timeout_(timeout) {}

  Status send(const herald::v1::EventBatch& batch) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    if (!secret_.empty()) {
      std::string bytes;
      batch.SerializeToString(&bytes);
      ctx.AddMetadata("x-herald-signature", hookSignature(secret_, unixSeconds(), bytes));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        return Status(ErrorCode::kUnavailable, "stopping");
      }
      current_ = &ctx;
    }
    herald::v1::EventBatchReply reply;
    const grpc::Status status = stub_->Events(&ctx, batch, &reply);
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = nullptr;
    }
    if (!status.ok()) {
      return Status(ErrorCode::kUnavailable,
                    "the receiver's HookService.Events failed: " + status.error_message());
    }
    return Status::ok();
  }

  void cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (current_ != nullptr) {
      current_->TryCancel();
    }
  }

 private:
  std::unique_ptr<herald::v1::HookService::Stub> stub_;
  const std::string secret_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  bool cancelled_ = false;
  grpc::ClientContext* current_ = nullptr;
};

}  // namespace

std::string eventBatchJson(const herald::v1::EventBatch& batch) {
  json events = json::array();
  for (const auto& e : batch.events()) {
    json event = {{"id", e.id()}, {"type", e.type()}, {"time_ms", e.time_ms()}};
    for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"user", &e.user()},
                                      {"channel", &e.channel()},
                                      {"client", &e.client()},
                                      {"node", &e.node()},
                                      {"reason", &e.reason()}}) {
      if (!value->empty()) {
        event[name] = *value;
      }
    }
    if (e.type() == "client.disconnected") {
      event["code"] = e.code();  // 0: not known (it closed while its node's link was down)
    }
    events.push_back(std::move(event));
  }
  // Names reported by nodes may hold invalid UTF-8: replaced, never thrown on.
  return json{{"events", std::move(events)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::unique_ptr<EventSender>> makeEventSender(const herald::v1::HookEndpoint& endpoint) {
  auto target = parseHookUrl(endpoint.url());
  if (!target.isOk()) {
    return target.status();
  }
  const std::chrono::milliseconds timeout(hookTimeoutMs(endpoint));
  std::unique_ptr<EventSender> sender;
  if (target->kind == HookTarget::Kind::kGrpc) {
    sender = std::make_unique<GrpcEventSender>(target.value(), endpoint.secret(), timeout);
  } else {
    sender = std::make_unique<HttpEventSender>(target.value(), endpoint.secret(), timeout);
  }
  return sender;
}

}  // namespace herald::control
