#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace herald::control {

/**
 * Who may join over NodeLink: a node must present the node secret (compared in constant
 * time), in the call's metadata (checked before any message is read, see CallGate) and in
 * its Hello. An empty secret means nodes are admitted otherwise: by client certificate
 * (mTLS, checked by the TLS layer) or, when the operator opted in with
 * --allow-unauthenticated-nodes, without credentials. herald-control generates a secret
 * at first start when none is given, so there is no open default.
 */
class NodeAdmission {
 public:
  explicit NodeAdmission(std::string secret) : secret_(std::move(secret)) {}

  Status admit(std::string_view presented_secret) const;
  bool needsSecret() const { return !secret_.empty(); }

 private:
  const std::string secret_;
};

// Equality of two secrets in time that depends on their lengths only.
bool secretsEqual(std::string_view presented, std::string_view expected);

}  // namespace herald::control
