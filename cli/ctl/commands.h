#pragma once

// heraldctl's commands, one function a command (or a command group with subcommands). Each
// makes its call(s) with `ctx` (new contexts from newContext() for further calls), prints the
// answer and returns the exit code; a usage error exits with 2.

#include <grpcpp/grpcpp.h>

#include "cli/ctl/options.h"
#include "herald/v1/control.grpc.pb.h"

namespace herald::ctl {

using Stub = herald::v1::Control::Stub;

// publish_command.cc
int publishCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int broadcastCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int sendToUserCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int demoFeedCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);

// history_command.cc
int historyCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int channelsCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);

// cluster_command.cc
int nodesCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int statsCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int presenceCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int infoCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);

// sessions_command.cc
int subscribeCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int unsubscribeCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int refreshCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int disconnectCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int revokeTokenCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);

// top_command.cc
int topCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);

// namespaces_command.cc, limits_command.cc, keys_command.cc
int namespacesCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int limitsCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);
int keysCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o);

}  // namespace herald::ctl
