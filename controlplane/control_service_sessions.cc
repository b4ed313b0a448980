// ControlService: what the server does to connections: Disconnect, Subscribe, Unsubscribe,
// Refresh (docs/api.md). Each goes to the nodes that may hold a matching connection.
#include "controlplane/control_service.h"

#include "common/channel_name.h"
#include "common/clock.h"

namespace herald::control {
namespace {

// Who a command is for: a user, one connection (`client`), or both must match.
Status checkTarget(const std::string& user, const std::string& client) {
  if (user.empty() && client.empty()) {
    return Status(ErrorCode::kBadRequest, "give user, client, or both");
  }
  if (user.size() > 256) {
    return Status(ErrorCode::kBadRequest, "user must be 1..256 bytes");
  }
  if (client.size() > 256) {
    return Status(ErrorCode::kBadRequest, "client must be at most 256 bytes");
  }
  return Status::ok();
}

// A time a ban may last until: after now, and within a year (a longer ban belongs in the
// application's own user store).
Status checkBanTime(int64_t until, const char* field) {
  const int64_t now = unixSeconds();
  if (until <= now || until > now + 366 * 86400) {
    return Status(ErrorCode::kBadRequest,
                  std::string(field) + " must be Unix seconds in the coming year");
  }
  return Status::ok();
}

}  // namespace

uint32_t ControlService::sendToTargets(const std::string& user, const std::string& client,
                                       ControlMessagePtr message) {
  auto visit = [&](NodeSink& node) { node.send(message); };
  // A client id alone does not say which node holds it: ask every node.
  return client.empty() ? router_.forUser(user, visit) : router_.forAll(visit);
}

grpc::Status ControlService::Disconnect(Ctx* ctx, const herald::v1::DisconnectRequest* req,
                                        herald::v1::DisconnectResponse* resp) {
  return guarded(ctx, Need::kPublisher, "Disconnect", [&]() -> Status {
    if (Status target = checkTarget(req->user(), req->client()); !target.isOk()) {
      return target;
    }
    if (req->code() != 0 && (req->code() < 4000 || req->code() > 4999)) {
      return Status(ErrorCode::kBadRequest,
                    "code must be an application close code 4000..4999 (default 4100)");
    }
    if (req->reason().size() > 120) {
      return Status(ErrorCode::kBadRequest, "reason longer than 120 bytes");
    }
    if (req->block_until() != 0) {
      if (req->user().empty()) {
        return Status(ErrorCode::kBadRequest, "block_until needs user");
      }
      if (Status when = checkBanTime(req->block_until(), "block_until"); !when.isOk()) {
        return when;
      }
    }
    auto message = std::make_shared<herald::v1::ControlMessage>();
    auto* cmd = message->mutable_disconnect();
    cmd->set_user(req->user());
    cmd->set_client(req->client());
    cmd->set_code(req->code() == 0 ? 4100 : req->code());
    cmd->set_reason(req->reason().empty() ? "disconnected by server" : req->reason());
    resp->set_nodes(sendToTargets(req->user(), req->client(), std::move(message)));
    if (req->block_until() != 0) {
      // After the close, on the same ordered link to each node: the connections it reaches
      // close with the code asked for; the block, pushed with the config, closes the user's
      // others (4005) and refuses their return.
      if (auto stored = store_.blockUser(req->user(), req->block_until()); !stored.isOk()) {
        return stored.status();
      }
    }
    return Status::ok();
  });
}

grpc::Status ControlService::Subscribe(Ctx* ctx, const herald::v1::SubscribeRequest* req,
                                       herald::v1::SubscribeResponse* resp) {
  return guarded(ctx, Need::kPublisher, "Subscribe", [&]() -> Status {
    if (Status target = checkTarget(req->user(), req->client()); !target.isOk()) {
      return target;
    }
    if (auto name = checkChannelName(req->channel()); !name.isOk()) {
      return name.status();
    }
    if (req->epoch().size() > 64) {
      return Status(ErrorCode::kBadRequest, "epoch longer than 64 bytes");
    }
    if (!req->recover() && (req->since_offset() != 0 || !req->epoch().empty())) {
      return Status(ErrorCode::kBadRequest, "since_offset and epoch need recover: true");
    }
    auto message = std::make_shared<herald::v1::ControlMessage>();
    auto* cmd = message->mutable_subscription();
    cmd->set_user(req->user());
    cmd->set_client(req->client());
    cmd->set_channel(req->channel());
    cmd->set_recover(req->recover());
    cmd->set_since_offset(req->since_offset());
    cmd->set_epoch(req->epoch());
    resp->set_nodes(sendToTargets(req->user(), req->client(), std::move(message)));
    return Status::ok();
  });
}

grpc::Status ControlService::Unsubscribe(Ctx* ctx, const herald::v1::UnsubscribeRequest* req,
                                         herald::v1::UnsubscribeResponse* resp) {
  return guarded(ctx, Need::kPublisher, "Unsubscribe", [&]() -> Status {
    if (Status target = checkTarget(req->user(), req->client()); !target.isOk()) {
      return target;
    }
    if (auto name = checkChannelName(req->channel()); !name.isOk()) {
      return name.status();
    }
    auto message = std::make_shared<herald::v1::ControlMessage>();
    auto* cmd = message->mutable_subscription();
    cmd->set_user(req->user());
    cmd->set_client(req->client());
    cmd->set_channel(req->channel());
    cmd->set_unsubscribe(true);
    resp->set_nodes(sendToTargets(req->user(), req->client(), std::move(message)));
    return Status::ok();
  });
}

grpc::Status ControlService::Refresh(Ctx* ctx, const herald::v1::RefreshRequest* req,
                                     herald::v1::RefreshResponse* resp) {
  return guarded(ctx, Need::kPublisher, "Refresh", [&]() -> Status {
    if (Status target = checkTarget(req->user(), req->client()); !target.isOk()) {
      return target;
    }
    if (req->expire_at() < 0) {
      return Status(ErrorCode::kBadRequest, "expire_at must be Unix seconds, or 0 for never");
    }
    auto message = std::make_shared<herald::v1::ControlMessage>();
    auto* cmd = message->mutable_refresh();
    cmd->set_user(req->user());
    cmd->set_client(req->client());
    cmd->set_expire_at(req->expire_at());
    resp->set_nodes(sendToTargets(req->user(), req->client(), std::move(message)));
    return Status::ok();
  });
}

grpc::Status ControlService::RevokeToken(Ctx* ctx, const herald::v1::RevokeTokenRequest* req,
                                         herald::v1::RevokeTokenResponse* resp) {
  return guarded(ctx, Need::kPublisher, "RevokeToken", [&]() -> Status {
    if (req->jti().empty() || req->jti().size() > 256) {
      return Status(ErrorCode::kBadRequest, "jti must be 1..256 bytes");
    }
    if (Status when = checkBanTime(req->expire_at(), "expire_at"); !when.isOk()) {
      return when;
    }
    auto version = store_.revokeToken(req->jti(), req->expire_at());
    if (!version.isOk()) {
      return version.status();
    }
    resp->set_config_version(version.value());
    return Status::ok();
  });
}

}  // namespace herald::control
