#pragma once

#include <functional>
#include <string>
#include <unordered_map>

namespace herald::node {

struct HttpResponse {
  int status = 404;
  std::string content_type = "application/json";
  std::string body;
};

/**
 * The plain HTTP routes on the node's client port (/health, /stats, /herald.js, /demo...):
 * one table of GET handlers, built by the Node at start-up and read-only afterwards, so any
 * shard thread may call handle(). Handlers must be thread-safe.
 */
class HttpRoutes {
 public:
  using Handler = std::function<HttpResponse()>;

  // Start-up only. A later add() of the same path replaces the handler.
  void add(const std::string& path, Handler handler);
  // 405 for anything but GET, 404 (listing the routes) for an unknown path.
  HttpResponse handle(const std::string& method, const std::string& path) const;

 private:
  std::unordered_map<std::string, Handler> routes_;
};

}  // namespace herald::node
