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

namespace {

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::optional<std::string> bearerToken(std::string_view authorization) {
  authorization = trimSpaces(authorization);
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) {
    return std::nullopt;
  }
  for (size_t i = 0; i < kScheme.size(); ++i) {  // the scheme is case-insensitive (RFC 7235)
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != kScheme[i]) {
      return std::nullopt;
    }
  }
  const std::string_view token = trimSpaces(authorization.substr(kScheme.size()));
  if (token.empty()) {
    return std::nullopt;
  }
  return std::string(token);
}

std::optional<std::string> cookieValue(std::string_view cookie_header, std::string_view name) {
  size_t start = 0;
  while (start <= cookie_header.size()) {
    const size_t semi = cookie_header.find(';', start);
    const std::string_view pair = trimSpaces(cookie_header.substr(
        start, semi == std::string_view::npos ? std::string_view::npos : semi - start));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trimSpaces(pair.substr(0, eq)) == name) {
      std::string_view value = trimSpaces(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);  // RFC 6265 allows a quoted value
      }
      return std::string(value);
    }
    if (semi == std::string_view::npos) {
      break;
    }
    start = semi + 1;
  }
  return std::nullopt;
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
  out.last_event_id = queryParam(query, "last_event_id");
  if (auto list = queryParam(query, "subscribe")) {
    out.subscribe = splitChannelList(*list);
  } else if (query.find("subscribe=") != std::string_view::npos) {
    out.subscribe_malformed = true;
  }
  return out;
}

}  // namespace herald::node
