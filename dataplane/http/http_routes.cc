#include "dataplane/http/http_routes.h"

namespace herald::node {

void HttpRoutes::add(const std::string& path, Handler handler) {
  routes_[path] = std::move(handler);
}

HttpResponse HttpRoutes::handle(const std::string& method, const std::string& path) const {
  HttpResponse response;
  if (method != "GET") {
    response.status = 405;
    response.body = "{\"error\":\"method_not_allowed\"}";
    return response;
  }
  auto it = routes_.find(path);
  if (it == routes_.end()) {
    response.status = 404;
    response.body =
        "{\"error\":\"not_found\",\"message\":\"try /ws, /health, /stats, /demo or "
        "/herald.js\"}";
    return response;
  }
  return it->second();
}

}  // namespace herald::node
