#include "controlplane/http/control_http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <optional>
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

// The Content-Length header: 0 when absent, nullopt when it is not a plain decimal number.
std::optional<uint64_t> contentLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) {
    return 0;
  }
  const std::string text = req.get_header_value("Content-Length");
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(text);
}

}  // namespace

std::optional<HttpReply> ControlHttpServer::precheck(const httplib::Request& req) const {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (!get && req.method != "POST") {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT,
                     "method " + req.method + " not allowed: GET or POST", 405);
  }
  if (req.has_header("Transfer-Encoding")) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT,
                     "send the body with a Content-Length (no Transfer-Encoding)", 411);
  }
  const std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity") {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT,
                     "Content-Encoding is not supported: send the body uncompressed", 415);
  }
  if (req.has_header("Range")) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, "Range is not supported", 416);
  }
  const std::optional<uint64_t> declared = contentLength(req);
  if (!declared) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, "Content-Length is not a number", 400);
  }
  const uint64_t length = *declared;
  if (get && length > 0) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, "a GET has no body", 400);
  }
  const HttpApi::Route* route = api_.find(req.path);
  if (!get && route == nullptr) {
    return httpError(grpc::StatusCode::NOT_FOUND,
                     "no such route: " + req.path + " (docs/api.md \"HTTP API\")");
  }
  if (route == nullptr) {
    return std::nullopt;  // /metrics, /health, /dashboard: no key, no body
  }
  if (get && !route->allows_get) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, req.path + " takes POST", 405);
  }
  if (req.get_header_value("Content-Type").rfind("multipart/", 0) == 0) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, "send JSON, not multipart", 415);
  }
  if (length > kMaxBodyBytes) {
    return httpError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "body larger than " + std::to_string(kMaxBodyBytes) + " bytes", 413);
  }
  // The key and its role, as ControlService checks them (it checks again).
  const std::string authorization = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  std::optional<herald::v1::ApiKeyRole> role;
  if (authorization.rfind(kBearer, 0) == 0) {
    const std::string key = authorization.substr(kBearer.size());
    const bool printable =
        std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (printable) {
      role = services_.keys->roleOf(key);
    }
  }
  if (!role) {
    return httpError(grpc::StatusCode::UNAUTHENTICATED,
                     "missing or unknown API key: send 'Authorization: Bearer <key>'");
  }
  if (*role != herald::v1::API_KEY_ROLE_ADMIN && *role != route->role) {
    return httpError(
        grpc::StatusCode::PERMISSION_DENIED,
        std::string("an API key with role ") + roleName(*role) + " may not call " + route->rpc);
  }
  return std::nullopt;
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
  // One request per connection: an answer given before the body was read (a refused key, a
  // body too large) can never leave bytes on a kept-alive connection to be taken for the
  // next request, and no idle connection holds a serving thread.
  s.set_keep_alive_max_count(1);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second
  // herald-control share this port instead of failing to start.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  // Everything decidable from the headers is decided before httplib reads a body: the shapes
  // httplib would read without a bound (chunked, compressed, multipart) are refused, and so
  // is a request without a key that may call the route.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (const auto refusal = precheck(req)) {
      reply(res, *refusal);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // A client that waits for "100 Continue" before its body gets the refusal instead.
  s.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (const auto refusal = precheck(req)) {
      reply(res, *refusal);
      return refusal->status;
    }
    return 100;
  });

  for (const HttpApi::Route& route : api_.routes()) {
    s.Post(route.path, [this, &route](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& content) {
      // Bodies being read at once are bounded in total, so parallel large requests from a
      // key holder cannot take the process' memory.
      const size_t declared =
          static_cast<size_t>(std::min<uint64_t>(contentLength(req).value_or(0), kMaxBodyBytes));
      BodyBudget budget(body_bytes_in_flight_, declared);
      if (!budget.granted()) {
        reply(res, httpError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "too many large requests at once; retry shortly"));
        return;
      }
      std::string body;
      body.reserve(declared);
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
      reply(res, api_.call(route, body, req.get_header_value("Authorization")));
    });
    if (route.allows_get) {
      s.Get(route.path, [this, &route](const httplib::Request& req, httplib::Response& res) {
        // ?page_size=100&prefix=news: the request's fields (strings; proto3's JSON parser
        // takes numbers as strings too).
        nlohmann::json fields = nlohmann::json::object();
        for (const auto& [name, value] : req.params) {
          fields[name] = value;
        }
        reply(res, api_.call(route,
                             fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             req.get_header_value("Authorization")));
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
  // Serving before returning: a stop() before httplib marks itself running would be lost and
  // leave the thread in accept().
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
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
