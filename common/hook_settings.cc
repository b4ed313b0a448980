#include "common/hook_settings.h"

#include <algorithm>
#include <set>

namespace herald {

namespace {

bool allOf(std::string_view text, size_t max, bool (*ok)(char)) {
  if (text.empty() || text.size() > max) {
    return false;
  }
  for (char c : text) {
    if (!ok(c)) {
      return false;
    }
  }
  return true;
}

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

bool headerChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool methodChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '/' || c == '-';
}

bool hostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

bool ipv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

// A DNS name or IPv4 address, or an IPv6 literal in brackets.
bool validHost(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return allOf(host.substr(1, host.size() - 2), 45, ipv6Char);
  }
  return allOf(host, 253, hostChar);
}

bool pathChar(char c) {
  // Unreserved and sub-delims of RFC 3986 plus '/' and '%': nothing that ends a request line.
  return c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '"' && c != '\\' && c != '<' &&
         c != '>' && c != '`' && c != '{' && c != '}' && c != '|' && c != '^';
}

}  // namespace

Result<HookTarget> parseHookUrl(std::string_view url) {
  HookTarget target;
  std::string_view rest;
  uint16_t default_port = 0;
  if (url.substr(0, 7) == "http://") {
    target.kind = HookTarget::Kind::kHttp;
    rest = url.substr(7);
    default_port = 80;
  } else if (url.substr(0, 8) == "https://") {
    target.kind = HookTarget::Kind::kHttps;
    rest = url.substr(8);
    default_port = 443;
  } else if (url.substr(0, 7) == "grpc://") {
    target.kind = HookTarget::Kind::kGrpc;
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "grpcs://") {
    target.kind = HookTarget::Kind::kGrpc;
    target.tls = true;
    rest = url.substr(8);
  } else {
    return Status(ErrorCode::kBadRequest,
                  "url must start with http://, https://, grpc:// or grpcs://");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') {
      path.remove_suffix(1);
    }
    if (!path.empty() && !allOf(path, 1024, pathChar)) {
      return Status(ErrorCode::kBadRequest, "url path has characters a request line cannot");
    }
    if (target.kind == HookTarget::Kind::kGrpc && !path.empty()) {
      return Status(ErrorCode::kBadRequest, "a grpc:// or grpcs:// url has no path");
    }
    target.path = std::string(path);
  }
  // The port follows the last ':' outside an IPv6 literal's brackets.
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  std::string_view host = authority;
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    const std::string_view port = authority.substr(colon + 1);
    uint32_t value = 0;
    if (port.empty() || port.size() > 5) {
      return Status(ErrorCode::kBadRequest, "url port must be 1..65535");
    }
    for (char c : port) {
      if (c < '0' || c > '9') {
        return Status(ErrorCode::kBadRequest, "url port must be 1..65535");
      }
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value == 0 || value > 65535) {
      return Status(ErrorCode::kBadRequest, "url port must be 1..65535");
    }
    target.port = static_cast<uint16_t>(value);
  } else if (default_port != 0) {
    target.port = default_port;
  } else {
    return Status(ErrorCode::kBadRequest, "a grpc:// or grpcs:// url needs a port");
  }
  if (!validHost(host)) {
    return Status(ErrorCode::kBadRequest,
                  "url needs a host: a name, an IPv4 address or an IPv6 one in brackets");
  }
  target.host = std::string(host);
  return target;
}

uint32_t hookTimeoutMs(const herald::v1::HookEndpoint& endpoint) {
  return endpoint.timeout_ms() == 0 ? kDefaultHookTimeoutMs : endpoint.timeout_ms();
}

uint32_t hookInFlight(const herald::v1::HookEndpoint& endpoint) {
  return endpoint.max_in_flight() == 0 ? kDefaultHookInFlight : endpoint.max_in_flight();
}

Status validateHookSettings(const herald::v1::HookSettings& hooks) {
  if (static_cast<size_t>(hooks.endpoints_size()) > kMaxHookEndpoints) {
    return Status(ErrorCode::kBadRequest,
                  "at most " + std::to_string(kMaxHookEndpoints) + " hook endpoints");
  }
  std::set<std::string> names;
  for (const auto& endpoint : hooks.endpoints()) {
    const std::string where = "hook endpoint '" + endpoint.name() + "': ";
    if (!allOf(endpoint.name(), 64, methodChar)) {
      return Status(ErrorCode::kBadRequest,
                    "a hook endpoint's name must be 1..64 of A-Z a-z 0-9 _ . : / -");
    }
    if (!names.insert(endpoint.name()).second) {
      return Status(ErrorCode::kBadRequest, where + "named twice");
    }
    auto target = parseHookUrl(endpoint.url());
    if (!target.isOk()) {
      return Status(ErrorCode::kBadRequest, where + target.status().message());
    }
    if (endpoint.timeout_ms() > kMaxHookTimeoutMs) {
      return Status(ErrorCode::kBadRequest,
                    where + "timeout_ms is at most " + std::to_string(kMaxHookTimeoutMs));
    }
    if (endpoint.max_in_flight() > kMaxHookInFlight) {
      return Status(ErrorCode::kBadRequest,
                    where + "max_in_flight is at most " + std::to_string(kMaxHookInFlight));
    }
    if (!endpoint.secret().empty() &&
        (endpoint.secret().size() < 16 || endpoint.secret().size() > 1024)) {
      return Status(ErrorCode::kBadRequest, where + "secret must be 16..1024 bytes");
    }
    if (!herald::v1::HookFailurePolicy_IsValid(endpoint.on_failure())) {
      return Status(ErrorCode::kBadRequest, where + "on_failure must be deny or allow");
    }
  }
  const std::pair<const char*, const std::string*> uses[] = {
      {"rpc", &hooks.rpc()}, {"connect", &hooks.connect()}, {"refresh", &hooks.refresh()}};
  for (const auto& [hook, name] : uses) {
    if (!name->empty() && names.count(*name) == 0) {
      return Status(ErrorCode::kBadRequest,
                    std::string("hooks.") + hook + " names no endpoint: '" + *name + "'");
    }
  }
  if (hooks.connect_always() && hooks.connect().empty()) {
    return Status(ErrorCode::kBadRequest, "hooks.connect_always needs hooks.connect");
  }
  if (static_cast<size_t>(hooks.connect_headers_size()) > kMaxConnectHeaders) {
    return Status(ErrorCode::kBadRequest, "hooks.connect_headers lists at most " +
                                              std::to_string(kMaxConnectHeaders) + " headers");
  }
  for (const auto& header : hooks.connect_headers()) {
    if (!allOf(header, 64, headerChar)) {
      return Status(ErrorCode::kBadRequest, "hooks.connect_headers: '" + header.substr(0, 64) +
                                                "' is not a header name (1..64 of A-Z a-z 0-9 -)");
    }
  }
  return Status::ok();
}

Status checkNamespaceHooks(const herald::v1::HookSettings& hooks, const std::string& subscribe,
                           const std::string& publish) {
  for (const auto* name : {&subscribe, &publish}) {
    if (name->empty()) {
      continue;
    }
    const bool known = std::any_of(hooks.endpoints().begin(), hooks.endpoints().end(),
                                   [&](const auto& e) { return e.name() == *name; });
    if (!known) {
      return Status(ErrorCode::kBadRequest,
                    "no hook endpoint named '" + name->substr(0, 64) +
                        "' in herald-control's config file (its `hooks` section)");
    }
  }
  return Status::ok();
}

bool validRpcMethod(std::string_view method) { return allOf(method, 128, methodChar); }

bool validHookErrorCode(std::string_view code) { return allOf(code, 64, lowerAlnum); }

}  // namespace herald
