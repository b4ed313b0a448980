#pragma once
// A gRPC channel to a hook endpoint (docs/hooks.md), the twin of hook_http_client.h:
// herald-node's hook calls and herald-control's event batches connect the same way.
// Header-only: its users link gRPC themselves.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/hook_settings.h"

namespace herald {

// grpc:// in plaintext; grpcs:// over TLS, the server's certificate checked against gRPC's
// roots (or the file GRPC_DEFAULT_SSL_ROOTS_FILE_PATH names).
inline std::shared_ptr<grpc::Channel> makeHookGrpcChannel(
    const HookTarget& target, const grpc::ChannelArguments& args = grpc::ChannelArguments()) {
  return grpc::CreateCustomChannel(target.host + ":" + std::to_string(target.port),
                                   target.tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                              : grpc::InsecureChannelCredentials(),
                                   args);
}

}  // namespace herald
