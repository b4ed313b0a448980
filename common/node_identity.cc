#include "common/node_identity.h"

#include <algorithm>

namespace herald {

bool validNodeId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

int clientShard(std::string_view node_id, std::string_view client) {
  if (client.size() <= node_id.size() + 1 || client.substr(0, node_id.size()) != node_id ||
      client[node_id.size()] != '-') {
    return -1;
  }
  const std::string_view rest = client.substr(node_id.size() + 1);
  const size_t dash = rest.find('-');
  if (dash == std::string_view::npos) {
    return -1;
  }
  const std::string_view shard = rest.substr(0, dash);
  const std::string_view sequence = rest.substr(dash + 1);
  auto digits = [](std::string_view s, size_t max) {
    return !s.empty() && s.size() <= max &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(shard, 4) || !digits(sequence, 20)) {
    return -1;
  }
  int n = 0;
  for (char c : shard) {
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace herald
