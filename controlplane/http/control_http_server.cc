#include "controlplane/http/control_http_server.h"

#include <sys/socket.h>

#include <stdexcept>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "common/host_port.h"
#include "common/logging.h"
#include "common/metrics_text.h"
#include "controlplane/http/web_assets.h"

namespace herald::control {
namespace {

constexpr char kJson[] = "application/json";

void reply(httplib::Response& res, const HttpReply& r) {
  res.status = r.status;
  res.set_content(r.body, kJson);
}

// The route label of /metrics: a fixed name, never the path a caller made up.
std::string routeLabel(const HttpApi& api, const std::string& path) {
  if (api.find(path) != nullptr || path == "/metrics" || path == "/health" ||
      findWebAsset(path) != nullptr) {
    return path;
  }
  return "(other)";
}

HttpReply unauthenticated() {
  return httpError(grpc::StatusCode::UNAUTHENTICATED,
                   "missing or unknown API key: send 'Authorization: Bearer <key>'");
}

}  // namespace

bool ControlHttpServer::admitted(const HttpApi::Route& route,
                                 const std::string& authorization) const {
  return services_.gate->admit("/herald.v1.Control/" + route.rpc, authorization, "").isOk();
}

ControlHttpServer::ControlHttpServer(ControlHttpServices services)
    : services_(std::move(services)), api_(services_.control_channel) {
  if (services_.tls_cert.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(
        services_.tls_cert.c_str(), services_.tls_key.c_str(),
        services_.tls_client_ca.empty() ? nullptr : services_.tls_client_ca.c_str());
    if (!tls->is_valid()) {
      throw std::runtime_error("HTTP port: cannot load the TLS certificate " + services_.tls_cert +
                               " and key " + services_.tls_key);
    }
    server_ = std::move(tls);
  }
  routes();
}

ControlHttpServer::~ControlHttpServer() { stop(); }

void ControlHttpServer::routes() {
  httplib::Server& s = *server_;
  s.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  s.set_payload_max_length(kMaxBodyBytes);
  s.set_read_timeout(std::chrono::seconds(10));
  s.set_write_timeout(std::chrono::seconds(10));
  s.set_keep_alive_timeout(5);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second
  // herald-control share this port instead of failing to start.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  // The key is checked from the headers before the body is read: a caller without a known key
  // has its body drained (read and dropped as it arrives, so the connection stays in step
  // for its next request) and never buffered. Roles are the handler's to check.
  for (const HttpApi::Route& route : api_.routes()) {
    s.Post(route.path, [this, &route](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& content) {
      const std::string authorization = req.get_header_value("Authorization");
      if (!admitted(route, authorization)) {
        content([](const char*, size_t) { return true; });
        reply(res, unauthenticated());
        return;
      }
      std::string body;
      const bool complete = content([&body](const char* data, size_t size) {
        if (body.size() + size > kMaxBodyBytes) {
          return false;
        }
        body.append(data, size);
        return true;
      });
      if (!complete) {
        reply(res, httpError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "body larger than " + std::to_string(kMaxBodyBytes) + " bytes", 413));
        return;
      }
      reply(res, api_.call(route, body, authorization));
    });
    if (route.allows_get) {
      s.Get(route.path, [this, &route](const httplib::Request& req, httplib::Response& res) {
        const std::string authorization = req.get_header_value("Authorization");
        if (!admitted(route, authorization)) {
          reply(res, unauthenticated());
          return;
        }
        // ?page_size=100&prefix=news: the request's fields (strings; proto3's JSON parser
        // takes numbers as strings too).
        nlohmann::json fields = nlohmann::json::object();
        for (const auto& [name, value] : req.params) {
          fields[name] = value;
        }
        reply(res, api_.call(route,
                             fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             authorization));
      });
    }
  }
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(services_.metrics_text(), MetricsText::kContentType);
  });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(services_.health_json(), kJson);
  });
  // The dashboard: a page of its own origin only (its script is inline, it calls this port).
  for (const WebAsset* asset : webAssets()) {
    s.Get(std::string(asset->path), [asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; img-src 'self'; frame-ancestors 'none'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Cache-Control", "no-store");
      res.set_content(std::string(asset->body), std::string(asset->content_type));
    });
  }

  // Every error in the same JSON shape, httplib's own (404, 413, 400) included.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) {
      return;  // one of ours, already JSON
    }
    grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
    std::string message = "bad request";
    if (res.status == 404) {
      code = grpc::StatusCode::NOT_FOUND;
      message = "no such route: " + req.path + " (docs/api.md \"HTTP API\")";
    } else if (res.status == 405) {
      message = "method not allowed on " + req.path + ": use POST";
    } else if (res.status == 413) {
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      message = "body larger than " + std::to_string(kMaxBodyBytes) + " bytes";
    } else if (res.status >= 500) {
      code = grpc::StatusCode::INTERNAL;
      message = "internal error";
    }
    reply(res, httpError(code, message, res.status));  // httplib's status stays
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    reply(res, httpError(grpc::StatusCode::INTERNAL, "internal error"));
  });
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (services_.metrics != nullptr) {
      services_.metrics->recordHttpRequest(routeLabel(api_, req.path), res.status);
    }
  });
}

std::string ControlHttpServer::start(const std::string& listen) {
  auto hp = parseHostPort(listen);
  if (!hp.isOk()) {
    throw std::runtime_error("--http-listen " + listen + ": " + hp.status().message());
  }
  std::string host = hp->host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = hp->port;
  if (port == 0) {
    port = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw std::runtime_error("cannot listen on " + listen +
                             " for HTTP (address in use or not local?)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  const std::string address = hp->host + ":" + std::to_string(port);
  componentLogger("control")->info("http on {} (/metrics, /health, /api/..., /dashboard)", address);
  return address;
}

void ControlHttpServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace herald::control
