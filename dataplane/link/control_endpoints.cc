#include "dataplane/link/control_endpoints.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

#include "common/host_port.h"

namespace herald::node {
namespace {

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return std::string();
  }
  const size_t last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

}  // namespace

Result<std::vector<std::string>> ControlEndpoints::parseList(const std::string& text) {
  std::vector<std::string> out;
  std::set<std::pair<std::string, uint16_t>> seen;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string item =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty()) {
      return Status(ErrorCode::kBadRequest,
                    text.find_first_not_of(" \t") == std::string::npos
                        ? std::string("no address given (expected HOST:PORT[,HOST:PORT...])")
                        : "empty address in '" + text + "' (expected HOST:PORT[,HOST:PORT...])");
    }
    auto hp = parseHostPort(item);
    if (!hp.isOk()) {
      return hp.status();
    }
    std::string host = hp->host;
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!seen.insert({host, hp->port}).second) {
      return Status(ErrorCode::kBadRequest, "'" + item + "' is listed twice");
    }
    out.push_back(item);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

ControlEndpoints::ControlEndpoints(std::vector<std::string> addresses, uint32_t max_delay_ms,
                                   uint64_t seed)
    : addresses_(std::move(addresses)), max_delay_ms_(max_delay_ms), rng_(seed) {
  if (addresses_.empty()) {
    throw std::invalid_argument("ControlEndpoints: no address");
  }
}

uint64_t ControlEndpoints::ceilingMs(uint32_t rounds, uint32_t max_delay_ms) {
  return std::min<uint64_t>(max_delay_ms, uint64_t{kBaseDelayMs} << std::min<uint32_t>(rounds, 20));
}

std::chrono::milliseconds ControlEndpoints::onFailure() {
  uint32_t rounds = 0;
  if (up_) {
    // A session that was up broke: the next address gets a quick try.
    up_ = false;
    failures_ = 0;
  } else {
    failures_ = failures_ == UINT32_MAX ? failures_ : failures_ + 1;
    if (failures_ % addresses_.size() == 0) {
      rounds = static_cast<uint32_t>(failures_ / addresses_.size());
    }
  }
  index_ = (index_ + 1) % addresses_.size();
  const uint64_t ceiling = ceilingMs(rounds, max_delay_ms_);
  std::uniform_int_distribution<uint64_t> dist(ceiling / 2, ceiling);
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace herald::node
