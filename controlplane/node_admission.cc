#include "controlplane/node_admission.h"

#include <openssl/crypto.h>

namespace herald::control {

bool isLoopbackPeer(std::string_view peer) {
  auto starts = [&](std::string_view prefix) { return peer.substr(0, prefix.size()) == prefix; };
  // gRPC 1.51 percent-encodes the brackets of IPv6 peers ("ipv6:%5B::1%5D:5000").
  return starts("ipv4:127.") || starts("ipv6:[::1]:") || starts("ipv6:%5B::1%5D:") ||
         starts("ipv6:[::ffff:127.") || starts("ipv6:%5B::ffff:127.") || starts("unix:") ||
         starts("unix-abstract:");
}

Status NodeAdmission::admit(const std::string& presented_secret, std::string_view peer) const {
  if (!secret_.empty()) {
    if (presented_secret.size() != secret_.size() ||
        CRYPTO_memcmp(presented_secret.data(), secret_.data(), secret_.size()) != 0) {
      return Status(ErrorCode::kUnauthorized,
                    "unknown node: wrong or missing node secret (--node-secret)");
    }
    return Status::ok();
  }
  if (loopbackOnly() && !isLoopbackPeer(peer)) {
    return Status(ErrorCode::kUnauthorized,
                  "unknown node: herald-control has no node secret, so only nodes on its own host "
                  "may join; give both sides --node-secret (or use --tls-client-ca)");
  }
  return Status::ok();
}

}  // namespace herald::control
