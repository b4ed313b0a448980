#include "dataplane/hooks/hook_transport.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mutex>

#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "common/hex.h"
#include "dataplane/hooks/hook_json.h"
#include "herald/v1/hooks.grpc.pb.h"

namespace herald::node {

namespace {

constexpr const char* kSignatureHeader = "X-Herald-Signature";

Status unavailable(const std::string& why) { return Status(ErrorCode::kUnavailable, why); }

std::string tooSlow(std::chrono::milliseconds timeout) {
  return "no reply from the backend within " + std::to_string(timeout.count()) + " ms";
}

// POST <url>/rpc with JSON; 200 and a reply body, or no reply.
class HttpHookTransport : public HookTransport {
 public:
  HttpHookTransport(const HookTarget& target, std::string secret)
      : path_(target.path), secret_(std::move(secret)) {
    // An IPv6 literal is connected to without its brackets.
    std::string host = target.host;
    if (host.size() > 2 && host.front() == '[') {
      host = host.substr(1, host.size() - 2);
    }
    if (target.kind == HookTarget::Kind::kHttps) {
      auto tls = std::make_unique<httplib::SSLClient>(host, target.port);
      tls->enable_server_certificate_verification(true);
      client_ = std::move(tls);
    } else {
      client_ = std::make_unique<httplib::ClientImpl>(host, target.port);
    }
    client_->set_keep_alive(true);
  }

  Result<herald::v1::RpcHookReply> rpc(const herald::v1::RpcHookRequest& request,
                                       std::chrono::milliseconds timeout) override {
    auto body = post("/rpc", rpcRequestJson(request), timeout);
    if (!body.isOk()) {
      return body.status();
    }
    auto reply = parseRpcReplyJson(body.value());
    if (!reply.isOk()) {
      return unavailable(reply.status().message());
    }
    if (Status checked = checkRpcReply(&reply.value()); !checked.isOk()) {
      return unavailable(checked.message());
    }
    return reply;
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
      req.set_header(kSignatureHeader, hookSignature(secret_, unixMillis() / 1000, json));
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

  Result<herald::v1::RpcHookReply> rpc(const herald::v1::RpcHookRequest& request,
                                       std::chrono::milliseconds timeout) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!secret_.empty()) {
      std::string bytes;
      request.SerializeToString(&bytes);
      ctx.AddMetadata("x-herald-signature", hookSignature(secret_, unixMillis() / 1000, bytes));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = &ctx;
    }
    herald::v1::RpcHookReply reply;
    const grpc::Status status = stub_->Rpc(&ctx, request, &reply);
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
    if (Status checked = checkRpcReply(&reply); !checked.isOk()) {
      return unavailable(checked.message());
    }
    return reply;
  }

  void cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ != nullptr) {
      current_->TryCancel();
    }
  }

 private:
  std::unique_ptr<herald::v1::HookService::Stub> stub_;
  const std::string secret_;
  std::mutex mu_;
  grpc::ClientContext* current_ = nullptr;  // the call in progress, for cancel()
};

}  // namespace

std::string hookSignature(const std::string& secret, int64_t unix_s, const std::string& body) {
  const std::string stamp = std::to_string(unix_s);
  const std::string signed_text = stamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
       &mac_len);
  return "t=" + stamp + ",sha256=" + toHex(mac, mac_len);
}

HookTransportFactory makeHookTransportFactory(const HookTarget& target, const std::string& secret) {
  if (target.kind == HookTarget::Kind::kGrpc) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(kMaxHookReplyBytes) + 4096);
    auto channel = grpc::CreateCustomChannel(target.host + ":" + std::to_string(target.port),
                                             grpc::InsecureChannelCredentials(), args);
    return [channel, secret] { return std::make_unique<GrpcHookTransport>(channel, secret); };
  }
  return [target, secret] { return std::make_unique<HttpHookTransport>(target, secret); };
}

}  // namespace herald::node
