#include "dataplane/session/client_limits.h"

#include <algorithm>

namespace herald::node {

bool originAllowed(const herald::v1::Limits& limits, const std::string& origin) {
  return limits.allowed_origins_size() == 0 ||
         std::find(limits.allowed_origins().begin(), limits.allowed_origins().end(), origin) !=
             limits.allowed_origins().end();
}

bool nodeHasRoom(const herald::v1::Limits& limits, uint64_t open) {
  return open < limits.max_connections_per_node();
}

std::string_view namespaceOf(std::string_view channel) {
  const size_t colon = channel.find(':');
  return colon == std::string_view::npos ? std::string_view() : channel.substr(0, colon);
}

Status checkSubscriptionLimits(const herald::v1::Limits& limits,
                               const std::vector<std::string>& held,
                               const std::vector<std::string>& fresh) {
  const size_t limit = limits.max_subscriptions_per_connection();
  if (held.size() + fresh.size() > limit) {
    return Status(ErrorCode::kLimitExceeded,
                  "at most " + std::to_string(limit) + " subscriptions per connection");
  }
  const size_t per_ns = limits.max_subscriptions_per_namespace();
  for (const auto& channel : fresh) {
    const std::string_view ns = namespaceOf(channel);
    size_t count = 0;
    for (const auto* list : {&held, &fresh}) {
      for (const auto& other : *list) {
        count += namespaceOf(other) == ns ? 1 : 0;
      }
    }
    if (count > per_ns) {
      return Status(ErrorCode::kLimitExceeded, "at most " + std::to_string(per_ns) +
                                                   " subscriptions per namespace ('" +
                                                   std::string(ns) + "') per connection");
    }
  }
  return Status::ok();
}

}  // namespace herald::node
