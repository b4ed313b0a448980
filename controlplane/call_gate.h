#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/security/server_credentials.h>

#include "common/status.h"
#include "controlplane/api_key_store.h"
#include "controlplane/node_admission.h"

namespace herald::control {

// Largest request herald-control reads (gRPC's per-message receive limit): a PublishBatch of
// up to kMaxBatchBytes of publications, with room for its framing. docs/api.md#limits.
inline constexpr size_t kMaxBatchBytes = 16 << 20;
inline constexpr int kMaxRequestBytes = kMaxBatchBytes + (1 << 20);

// Metadata a node sends its secret in on NodeLink.Session (also in Hello, checked again there).
inline constexpr char kNodeSecretMetadata[] = "x-herald-node-secret";

/**
 * Decides from a call's metadata alone whether herald-control reads its messages: a Control
 * API call needs a known API key, a NodeLink call the node secret (unless nodes are admitted
 * by client certificate or, opted in, without credentials). It runs in gRPC's auth layer,
 * before the request body is received: a caller without credentials gets UNAUTHENTICATED
 * and herald-control never buffers its message (four keyless 60 MB Publish calls once took
 * it from 21 MB to 523 MB). Roles are still checked by each handler.
 * Thread-safe: called on gRPC's threads; holds only what it was built with.
 */
class CallGate {
 public:
  CallGate(const ApiKeyStore& keys, NodeAdmission nodes) : keys_(keys), nodes_(std::move(nodes)) {}

  // `path` is the gRPC method ("/herald.v1.Control/Publish"); the others are metadata values
  // ("" when absent).
  Status admit(std::string_view path, std::string_view authorization,
               std::string_view presented_node_secret) const;

 private:
  const ApiKeyStore& keys_;
  const NodeAdmission nodes_;
};

// Server credentials whose auth layer applies `gate` to every call: plaintext when `tls` is
// null, else the given TLS credentials.
std::shared_ptr<grpc::ServerCredentials> gatedCredentials(
    std::shared_ptr<const CallGate> gate, std::shared_ptr<grpc::ServerCredentials> tls);

}  // namespace herald::control
