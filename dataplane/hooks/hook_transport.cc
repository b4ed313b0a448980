#include "dataplane/hooks/hook_transport.h"

#include <httplib.h>

#include <mutex>

#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "common/hook_grpc_channel.h"
#include "common/hook_http_client.h"
#include "common/hook_signature.h"
#include "dataplane/hooks/hook_json.h"
#include "herald/v1/hooks.grpc.pb.h"

namespace herald::node {

namespace {

Status unavailable(const std::string& why) { return Status(ErrorCode::kUnavailable, why); }

std::string tooSlow(std::chrono::milliseconds timeout) {
  return "no reply from the backend within " + std::to_string(timeout.count()) + " ms";
}

template <typename Request>
const Request& as(const google::protobuf::Message& m) {
  return static_cast<const Request&>(m);
}

std::string requestJson(HookMethod method, const google::protobuf::Message& request) {
  switch (method) {
    case HookMethod::kRpc:
      return rpcRequestJson(as<herald::v1::RpcHookRequest>(request));
    case HookMethod::kConnect:
      return connectRequestJson(as<herald::v1::ConnectHookRequest>(request));
    case HookMethod::kSubscribe:
      return subscribeRequestJson(as<herald::v1::SubscribeHookRequest>(request));
    case HookMethod::kPublish:
      return publishRequestJson(as<herald::v1::PublishHookRequest>(request));
    case HookMethod::kRefresh:
      return refreshRequestJson(as<herald::v1::RefreshHookRequest>(request));
  }
  return "{}";
}

template <typename Reply>
Status take(Result<Reply> parsed, google::protobuf::Message* out) {
  if (!parsed.isOk()) {
    return unavailable(parsed.status().message());
  }
  static_cast<Reply*>(out)->Swap(&parsed.value());
  return Status::ok();
}

Status parseReply(HookMethod method, std::string_view body, google::protobuf::Message* reply) {
  switch (method) {
    case HookMethod::kRpc:
      return take(parseRpcReplyJson(body), reply);
    case HookMethod::kConnect:
      return take(parseConnectReplyJson(body), reply);
    case HookMethod::kSubscribe:
      return take(parseSubscribeReplyJson(body), reply);
    case HookMethod::kPublish:
      return take(parsePublishReplyJson(body), reply);
    case HookMethod::kRefresh:
      return take(parseRefreshReplyJson(body), reply);
  }
  return unavailable("unknown hook");
}

// POST <url>/<method> with JSON; 200 and a reply body, or no reply.
class HttpHookTransport : public HookTransport {
 public:
  HttpHookTransport(const HookTarget& target, std::string secret)
      : path_(target.path), secret_(std::move(secret)) {
    client_ = makeHookHttpClient(target);
  }

  Status call(HookMethod method, const google::protobuf::Message& request,
              google::protobuf::Message* reply, std::chrono::milliseconds timeout) override {
    auto body =
        post(std::string("/") + hookMethodName(method), requestJson(method, request), timeout);
    if (!body.isOk()) {
      return body.status();
    }
    return parseReply(method, body.value(), reply);
  }

  void cancel() override {
    cancelled_ = true;
    client_->stop();  // shuts the socket of a request in flight down (httplib: thread-safe)
  }

 private:
  Result<std::string> post(const std::string& method, std::string json,
                           std::chrono::milliseconds timeout) {
    cancelled_ = false;
    const auto seconds = static_cast<time_t>(timeout.count() / 1000);
    const auto micros = static_cast<time_t>((timeout.count() % 1000) * 1000);
    client_->set_connection_timeout(seconds, micros);
    client_->set_read_timeout(seconds, micros);
    client_->set_write_timeout(seconds, micros);
    httplib::Request req;
    req.method = "POST";
    req.path = path_ + method;
    req.set_header("Content-Type", "application/json");
    if (!secret_.empty()) {
      req.set_header(kHookSignatureHeader, hookSignature(secret_, unixSeconds(), json));
    }
    req.body = std::move(json);
    std::string body;
    bool too_large = false;
    // The reply is read in pieces and refused past the bound, never buffered whole first.
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (body.size() + n > kMaxHookReplyBytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    if (!client_->send(req, res, error)) {
      if (too_large) {
        return unavailable("the backend's reply is larger than " +
                           std::to_string(kMaxHookReplyBytes) + " bytes");
      }
      if (cancelled_ || error == httplib::Error::Read) {
        return unavailable(tooSlow(timeout));
      }
      return unavailable("the backend could not be reached (" + httplib::to_string(error) + ")");
    }
    if (res.status != 200) {
      return unavailable("the backend answered HTTP " + std::to_string(res.status));
    }
    return body;
  }

  std::unique_ptr<httplib::ClientImpl> client_;
  const std::string path_;
  const std::string secret_;
  std::atomic<bool> cancelled_{false};
};

// HookService over one shared channel.
class GrpcHookTransport : public HookTransport {
 public:
  GrpcHookTransport(std::shared_ptr<grpc::Channel> channel, std::string secret)
      : stub_(herald::v1::HookService::NewStub(std::move(channel))), secret_(std::move(secret)) {}

  Status call(HookMethod method, const google::protobuf::Message& request,
              google::protobuf::Message* reply, std::chrono::milliseconds timeout) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!secret_.empty()) {
      std::string bytes;
      request.SerializeToString(&bytes);
      ctx.AddMetadata("x-herald-signature", hookSignature(secret_, unixSeconds(), bytes));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = &ctx;
    }
    const grpc::Status status = invoke(method, &ctx, request, reply);
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = nullptr;
    }
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
        status.error_code() == grpc::StatusCode::CANCELLED) {
      return unavailable(tooSlow(timeout));
    }
    if (!status.ok()) {
      return unavailable("the backend's HookService failed: " + status.error_message());
    }
    return Status::ok();
  }

  void cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ != nullptr) {
      current_->TryCancel();
    }
  }

 private:
  grpc::Status invoke(HookMethod method, grpc::ClientContext* ctx,
                      const google::protobuf::Message& request, google::protobuf::Message* reply) {
    using namespace herald::v1;
    switch (method) {
      case HookMethod::kRpc:
        return stub_->Rpc(ctx, as<RpcHookRequest>(request), static_cast<RpcHookReply*>(reply));
      case HookMethod::kConnect:
        return stub_->Connect(ctx, as<ConnectHookRequest>(request),
                              static_cast<ConnectHookReply*>(reply));
      case HookMethod::kSubscribe:
        return stub_->Subscribe(ctx, as<SubscribeHookRequest>(request),
                                static_cast<SubscribeHookReply*>(reply));
      case HookMethod::kPublish:
        return stub_->Publish(ctx, as<PublishHookRequest>(request),
                              static_cast<PublishHookReply*>(reply));
      case HookMethod::kRefresh:
        return stub_->Refresh(ctx, as<RefreshHookRequest>(request),
                              static_cast<RefreshHookReply*>(reply));
    }
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown hook");
  }

  std::unique_ptr<herald::v1::HookService::Stub> stub_;
  const std::string secret_;
  std::mutex mu_;
  grpc::ClientContext* current_ = nullptr;  // the call in progress, for cancel()
};

}  // namespace

const char* hookMethodName(HookMethod method) {
  switch (method) {
    case HookMethod::kRpc:
      return "rpc";
    case HookMethod::kConnect:
      return "connect";
    case HookMethod::kSubscribe:
      return "subscribe";
    case HookMethod::kPublish:
      return "publish";
    case HookMethod::kRefresh:
      return "refresh";
  }
  return "unknown";
}

HookTransportFactory makeHookTransportFactory(const HookTarget& target, const std::string& secret) {
  if (target.kind == HookTarget::Kind::kGrpc) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(kMaxHookReplyBytes) + 4096);
    auto channel = makeHookGrpcChannel(target, args);
    return [channel, secret] { return std::make_unique<GrpcHookTransport>(channel, secret); };
  }
  return [target, secret] { return std::make_unique<HttpHookTransport>(target, secret); };
}

}  // namespace herald::node
