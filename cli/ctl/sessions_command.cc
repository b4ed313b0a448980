// heraldctl subscribe, unsubscribe, refresh and disconnect: what the server does to
// connections (ControlService.Subscribe / Unsubscribe / Refresh / Disconnect).
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"

namespace herald::ctl {

namespace {

// "alice" or "client node-1-0-7", for the summary line.
std::string target(const Options& o) {
  if (o.user.empty() && o.client.empty()) {
    usageError(o.args[0] + " needs --user USER or --client ID (or both)");
  }
  std::string out = o.user.empty() ? "" : "user " + o.user;
  if (!o.client.empty()) {
    out += (out.empty() ? "" : ", ") + std::string("client ") + o.client;
  }
  return out;
}

template <typename Response>
int report(const char* what, const grpc::Status& s, const Response& resp, const Options& o,
           const std::string& summary) {
  if (!s.ok()) {
    return fail(what, s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("%s: sent to %u node(s)\n", summary.c_str(), resp.nodes());
  }
  return 0;
}

}  // namespace

int subscribeCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  if (o.args.size() != 2) {
    usageError("subscribe needs CHANNEL, e.g. subscribe news --user alice");
  }
  const std::string who = target(o);
  herald::v1::SubscribeRequest req;
  req.set_user(o.user);
  req.set_client(o.client);
  req.set_channel(o.args[1]);
  if (o.since >= 0) {
    req.set_recover(true);
    req.set_since_offset(static_cast<uint64_t>(o.since));
    req.set_epoch(o.epoch);
  } else if (!o.epoch.empty()) {
    usageError("--epoch goes with --since");
  }
  herald::v1::SubscribeResponse resp;
  return report("subscribe", stub.Subscribe(&ctx, req, &resp), resp, o,
                "subscribe " + who + " to " + o.args[1]);
}

int unsubscribeCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  if (o.args.size() != 2) {
    usageError("unsubscribe needs CHANNEL, e.g. unsubscribe news --user alice");
  }
  const std::string who = target(o);
  herald::v1::UnsubscribeRequest req;
  req.set_user(o.user);
  req.set_client(o.client);
  req.set_channel(o.args[1]);
  herald::v1::UnsubscribeResponse resp;
  return report("unsubscribe", stub.Unsubscribe(&ctx, req, &resp), resp, o,
                "unsubscribe " + who + " from " + o.args[1]);
}

int refreshCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  if (o.args.size() != 1) {
    usageError("refresh takes no arguments, e.g. refresh --user alice --expire-at 0");
  }
  const std::string who = target(o);
  if (o.expire_at < 0) {
    usageError("refresh needs --expire-at UNIX_SECONDS (0: never expire)");
  }
  herald::v1::RefreshRequest req;
  req.set_user(o.user);
  req.set_client(o.client);
  req.set_expire_at(o.expire_at);
  herald::v1::RefreshResponse resp;
  return report("refresh", stub.Refresh(&ctx, req, &resp), resp, o,
                "refresh " + who + " to expire at " +
                    (o.expire_at == 0 ? std::string("never") : std::to_string(o.expire_at)));
}

int disconnectCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  if (o.args.size() != 1) {
    usageError("disconnect takes no arguments, e.g. disconnect --user alice --reason 'bye'");
  }
  const std::string who = target(o);
  herald::v1::DisconnectRequest req;
  req.set_user(o.user);
  req.set_client(o.client);
  req.set_code(static_cast<uint32_t>(o.code));
  req.set_reason(o.reason);
  req.set_block_until(o.block_until);
  herald::v1::DisconnectResponse resp;
  return report("disconnect", stub.Disconnect(&ctx, req, &resp), resp, o,
                "disconnect " + who +
                    (o.block_until != 0 ? " (blocked until " + std::to_string(o.block_until) + ")"
                                        : std::string()));
}

int revokeTokenCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  if (o.args.size() != 2 || o.expire_at <= 0) {
    usageError("revoke-token needs JTI and --expire-at UNIX_SECONDS (the token's exp)");
  }
  herald::v1::RevokeTokenRequest req;
  req.set_jti(o.args[1]);
  req.set_expire_at(o.expire_at);
  herald::v1::RevokeTokenResponse resp;
  grpc::Status s = stub.RevokeToken(&ctx, req, &resp);
  if (!s.ok()) {
    return fail("revoke-token", s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("token %s revoked until %lld (config version %llu)\n", req.jti().c_str(),
                static_cast<long long>(req.expire_at()),
                static_cast<unsigned long long>(resp.config_version()));
  }
  return 0;
}

}  // namespace herald::ctl
