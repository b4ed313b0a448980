#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace herald {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string toString() const { return host + ":" + std::to_string(port); }
};

// Parses "HOST:PORT" (port 0..65535; HOST non-empty; "[::1]:80" for IPv6).
Result<HostPort> parseHostPort(const std::string& text);

}  // namespace herald
