#include "common/channel_name.h"

namespace herald {
namespace {

bool isNamespaceChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool isRestChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || c == '@' || c == '=' || c == ',' || c == '/';
}

}  // namespace

Status validateNamespaceName(std::string_view ns) {
  if (ns.size() > kMaxNamespaceLength) {
    return Status(ErrorCode::kBadRequest, "namespace longer than 64 bytes");
  }
  for (char c : ns) {
    if (!isNamespaceChar(c)) {
      return Status(ErrorCode::kBadRequest, "namespace may contain only a-z, 0-9, '_' and '-'");
    }
  }
  return Status::ok();
}

Result<ChannelName> checkChannelName(std::string_view name) {
  auto parsed = parseChannelName(name);
  if (!parsed.isOk()) {
    return Status(ErrorCode::kBadRequest, "channel '" + std::string(name.substr(0, 300)) +
                                              "': " + parsed.status().message());
  }
  return parsed;
}

Result<ChannelName> parseChannelName(std::string_view name) {
  if (name.empty()) {
    return Status(ErrorCode::kBadRequest, "channel name is empty");
  }
  if (name.size() > kMaxChannelLength) {
    return Status(ErrorCode::kBadRequest, "channel name longer than 255 bytes");
  }
  ChannelName out;
  const size_t colon = name.find(':');
  if (colon == std::string_view::npos) {
    out.rest = name;
  } else {
    out.ns = name.substr(0, colon);
    out.rest = name.substr(colon + 1);
    if (out.ns.empty()) {
      return Status(ErrorCode::kBadRequest, "channel namespace before ':' is empty");
    }
    Status ns_status = validateNamespaceName(out.ns);
    if (!ns_status.isOk()) {
      return Status(ErrorCode::kBadRequest, "invalid channel name: " + ns_status.message());
    }
    if (out.rest.empty()) {
      return Status(ErrorCode::kBadRequest, "channel name after ':' is empty");
    }
  }
  for (char c : out.rest) {
    if (!isRestChar(c)) {
      return Status(ErrorCode::kBadRequest,
                    "channel name may contain only A-Z, a-z, 0-9 and _ - . : @ = , /");
    }
  }
  return out;
}

}  // namespace herald
