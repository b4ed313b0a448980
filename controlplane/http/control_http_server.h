#pragma once
// herald-control's HTTP port (--http-listen): /metrics, /health, the HTTP JSON API (/api/...)
// and the admin dashboard. cpp-httplib (Debian's libcpp-httplib-dev) parses HTTP; this file
// only routes. API keys are checked from the headers, before a request body is read.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "controlplane/api_key_store.h"
#include "controlplane/call_gate.h"
#include "controlplane/control_metrics.h"
#include "controlplane/http/http_api.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace herald::control {

struct ControlHttpServices {
  std::function<std::string()> metrics_text;                // the whole /metrics exposition
  std::function<std::string()> health_json;                 // /health's body
  std::shared_ptr<grpc::ChannelInterface> control_channel;  // in-process, to ControlService
  const ApiKeyStore* keys = nullptr;  // keys and roles, checked before a body is read
  ControlMetrics* metrics = nullptr;  // HTTP requests counted here
  // The gRPC port's TLS files (PEM); HTTPS when tls_cert is set, client certificates required
  // when tls_client_ca is.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

class ControlHttpServer {
 public:
  // Throws std::runtime_error when the TLS files cannot be loaded.
  explicit ControlHttpServer(ControlHttpServices services);
  ~ControlHttpServer();

  // Binds `listen` ("HOST:PORT", port 0 for any) and serves on threads of its own; returns the
  // bound "host:port". Throws std::runtime_error when it cannot bind.
  std::string start(const std::string& listen);
  // Stops accepting and waits for the serving threads; idempotent.
  void stop();

  // Largest request body read (a PublishBatch's limit, as on gRPC); larger ones get 413
  // without being read.
  static constexpr size_t kMaxBodyBytes = kMaxRequestBytes;
  // Request bodies read at once, in total: two of the largest.
  static constexpr size_t kMaxBodyBytesInFlight = 2 * kMaxBodyBytes;
  // Requests served at once; more wait for a thread.
  static constexpr size_t kThreads = 16;

 private:
  void routes();
  // The refusal for what the headers alone show is wrong (method, body shape, size, key,
  // role), or nullopt to go on and read the body.
  std::optional<HttpReply> precheck(const httplib::Request& req) const;

  // Reserves `bytes` of the budget for bodies being read at once, for its lifetime.
  class BodyBudget {
   public:
    BodyBudget(std::atomic<size_t>& in_flight, size_t bytes) : in_flight_(in_flight) {
      granted_ = in_flight_.fetch_add(bytes) + bytes <= kMaxBodyBytesInFlight;
      if (granted_) {
        bytes_ = bytes;
      } else {
        in_flight_.fetch_sub(bytes);
      }
    }
    ~BodyBudget() { in_flight_.fetch_sub(bytes_); }
    bool granted() const { return granted_; }

   private:
    std::atomic<size_t>& in_flight_;
    size_t bytes_ = 0;
    bool granted_ = false;
  };
  std::atomic<size_t> body_bytes_in_flight_{0};

  ControlHttpServices services_;
  HttpApi api_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace herald::control
