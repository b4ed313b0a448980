#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace herald::control {

/**
 * Who may join over NodeLink. With a node secret, a node must present it (compared in
 * constant time). Without one, and without client certificates (mTLS, checked by the TLS
 * layer before this), only nodes on this host may join unless the operator opted out: like
 * Redis's protected mode, a control plane started without credentials is not open to the
 * network by accident.
 */
class NodeAdmission {
 public:
  NodeAdmission(std::string secret, bool client_certificates, bool allow_unauthenticated_remote)
      : secret_(std::move(secret)),
        client_certificates_(client_certificates),
        allow_unauthenticated_remote_(allow_unauthenticated_remote) {}

  // `peer` as gRPC names it ("ipv4:10.0.0.5:41234", "ipv6:[::1]:5000", "unix:/path").
  Status admit(const std::string& presented_secret, std::string_view peer) const;

  // True when nodes need nothing to join, from anywhere (worth a warning at start-up).
  bool openToRemoteNodes() const {
    return secret_.empty() && !client_certificates_ && allow_unauthenticated_remote_;
  }
  // True when only nodes on this host may join (no secret, no client certificates).
  bool loopbackOnly() const {
    return secret_.empty() && !client_certificates_ && !allow_unauthenticated_remote_;
  }

 private:
  const std::string secret_;
  const bool client_certificates_;
  const bool allow_unauthenticated_remote_;
};

// True for gRPC peers on this host: 127.0.0.0/8, ::1, ::ffff:127.x.x.x, Unix sockets. A proxy
// on this host (a sidecar, an SSH tunnel) makes remote peers look local: use a node secret.
bool isLoopbackPeer(std::string_view peer);

}  // namespace herald::control
