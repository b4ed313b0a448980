#pragma once
// The HTTP JSON API: each route is one Control API method, called through an in-process gRPC
// channel to the same ControlService that serves gRPC, so keys, roles, validation, limits,
// idempotency and errors cannot drift apart. This file maps JSON to and from the messages;
// control_http_server.cc serves it (cpp-httplib). docs/api.md "HTTP API".
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "herald/v1/control.grpc.pb.h"

namespace herald::control {

struct HttpReply {
  int status = 200;
  std::string body;  // JSON
};

// A JSON error body: {"error": {"code": "<gRPC code name>", "status": <HTTP>, "message": "..."}}.
// The HTTP status is the code's (httpStatusFor) unless `http_status` says otherwise (413).
HttpReply httpError(grpc::StatusCode code, std::string_view message, int http_status = 0);

// A request body with its publications' `data` values cut out (http_api.cc).
struct HttpRequestText;

class HttpApi {
 public:
  // `channel` reaches the Control service (grpc::Server::InProcessChannel in herald-control).
  explicit HttpApi(std::shared_ptr<grpc::ChannelInterface> channel);

  struct Route {
    std::string path;             // "/api/publish"
    std::string rpc;              // "Publish"
    bool allows_get;              // reads: GET with no body works too
    herald::v1::ApiKeyRole role;  // what it needs besides admin (the RPC's role: api.md)
  };
  const std::vector<Route>& routes() const { return routes_; }
  // The route at `path`, or null.
  const Route* find(std::string_view path) const;

  // Calls the route's method with `body` (JSON; empty means {}) and the caller's
  // `authorization` header, forwarded as gRPC metadata.
  HttpReply call(const Route& route, std::string_view body, const std::string& authorization);

  // How long a call may take before DEADLINE_EXCEEDED (504).
  static constexpr std::chrono::seconds kCallDeadline{30};

 private:
  using Invoke = HttpReply (*)(herald::v1::Control::Stub&, grpc::ClientContext&,
                               const HttpRequestText& text);
  std::unique_ptr<herald::v1::Control::Stub> stub_;
  std::vector<Route> routes_;
  std::map<std::string, Invoke, std::less<>> invokers_;  // by rpc
};

}  // namespace herald::control
