#include "dataplane/transport/upgrade_request.h"

namespace herald::node {

int websocketVersionStatus(std::string_view version_header) {
  // RFC 6455 §4.1: the client sends exactly 13; optional whitespace around a header value.
  while (!version_header.empty() &&
         (version_header.front() == ' ' || version_header.front() == '\t')) {
    version_header.remove_prefix(1);
  }
  while (!version_header.empty() &&
         (version_header.back() == ' ' || version_header.back() == '\t')) {
    version_header.remove_suffix(1);
  }
  return version_header == "13" ? 0 : 426;
}

std::string_view requestPath(std::string_view resource) {
  return resource.substr(0, resource.find('?'));
}

ConnectQuery parseConnectQuery(std::string_view resource) {
  ConnectQuery out;
  const size_t q = resource.find('?');
  if (q == std::string_view::npos) {
    return out;
  }
  const std::string_view query = resource.substr(q + 1);
  out.token = queryParam(query, "token");
  if (auto since = queryParam(query, "user_since")) {
    out.user_since = parseStreamPosition(*since);
    out.user_since_invalid = !out.user_since.has_value();
  } else if (query.find("user_since=") != std::string_view::npos) {
    out.user_since_invalid = true;  // a malformed %-escape
  }
  if (auto list = queryParam(query, "subscribe")) {
    out.subscribe = splitChannelList(*list);
  } else if (query.find("subscribe=") != std::string_view::npos) {
    out.subscribe_malformed = true;
  }
  return out;
}

}  // namespace herald::node
