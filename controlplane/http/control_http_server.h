#pragma once
// herald-control's HTTP port (--http-listen): /metrics, /health, the HTTP JSON API (/api/...)
// and the admin dashboard. cpp-httplib (Debian's libcpp-httplib-dev) parses HTTP; this file
// only routes. API keys are checked from the headers, before a request body is read.
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "controlplane/call_gate.h"
#include "controlplane/control_metrics.h"
#include "controlplane/http/http_api.h"

namespace httplib {
class Server;
}

namespace herald::control {

struct ControlHttpServices {
  std::function<std::string()> metrics_text;                // the whole /metrics exposition
  std::function<std::string()> health_json;                 // /health's body
  std::shared_ptr<grpc::ChannelInterface> control_channel;  // in-process, to ControlService
  std::shared_ptr<const CallGate> gate;  // the gRPC port's: same keys, same answers
  ControlMetrics* metrics = nullptr;     // HTTP requests counted here
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
  // Requests served at once; more wait for a thread.
  static constexpr size_t kThreads = 16;

 private:
  void routes();
  // The gRPC port's gate on the key alone (the handler checks the role).
  bool admitted(const HttpApi::Route& route, const std::string& authorization) const;

  ControlHttpServices services_;
  HttpApi api_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace herald::control
