#include "common/host_port.h"

#include <cstdlib>

namespace herald {

Result<HostPort> parseHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status(ErrorCode::kBadRequest, "'" + text + "' is not HOST:PORT (e.g. 127.0.0.1:7070)");
  }
  HostPort out;
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return Status(ErrorCode::kBadRequest, "'" + text + "': port must be a number 0..65535");
  }
  const long value = std::strtol(port.c_str(), nullptr, 10);
  if (value > 65535) {
    return Status(ErrorCode::kBadRequest, "'" + text + "': port must be a number 0..65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

}  // namespace herald
