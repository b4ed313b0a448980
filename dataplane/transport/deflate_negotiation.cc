#include "dataplane/transport/deflate_negotiation.h"

namespace herald::node {

namespace {

// A window-bits value: 1*DIGIT in 8..15 (7.1.2.1-2).
std::optional<int> windowBits(const std::string& value) {
  if (value.empty() || value.size() > 2) {
    return std::nullopt;
  }
  int bits = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    bits = bits * 10 + (c - '0');
  }
  if (bits < 8 || bits > 15 || value[0] == '0') {
    return std::nullopt;
  }
  return bits;
}

}  // namespace

std::optional<std::string> answerDeflateOffer(const std::map<std::string, std::string>& params) {
  std::string answer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  for (const auto& [name, value] : params) {
    if (name == "server_no_context_takeover" || name == "client_no_context_takeover") {
      if (!value.empty()) {
        return std::nullopt;  // these take no value
      }
    } else if (name == "server_max_window_bits") {
      const auto bits = windowBits(value);
      if (!bits || *bits < 15) {
        return std::nullopt;
      }
      answer += "; server_max_window_bits=15";  // 7.1.2.1: the answer must carry it
    } else if (name == "client_max_window_bits") {
      // The client may limit its own window; any window inflates with ours.
      if (!value.empty() && !windowBits(value)) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  return answer;
}

}  // namespace herald::node
