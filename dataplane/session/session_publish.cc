// ClientSession: a client's `publish` (docs/protocol.md "Client publish"). Checked here
// (namespace flag, subscribe rule, answers in flight), then published by herald-control
// through the ControlUplink; the answer comes back through onPublishResult().
#include <algorithm>

#include "common/channel_name.h"
#include "common/clock.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/session/permissions.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

// How long a client publication may wait for the control plane's answer.
constexpr int64_t kPublishTimeoutMs = 5000;
// Publications of one connection waiting for an answer at once.
constexpr uint16_t kMaxPublishesInFlight = 64;

}  // namespace

void ClientSession::publish(std::optional<uint64_t> frame_id, const ClientCommand& cmd) {
  auto& counters = shard_->counters;
  Status allowed = checkPublish(cmd.channel);
  if (!allowed.isOk()) {
    counters.publish_denied.fetch_add(1, std::memory_order_relaxed);
    sendError(frame_id, allowed);
    return;
  }
  if (publishes_in_flight_ >= kMaxPublishesInFlight) {
    counters.publish_denied.fetch_add(1, std::memory_order_relaxed);
    sendError(frame_id, Status(ErrorCode::kLimitExceeded,
                               "more than " + std::to_string(kMaxPublishesInFlight) +
                                   " publications waiting for an answer; wait for their replies"));
    return;
  }
  herald::v1::ClientPublish request;
  request.set_channel(cmd.channel);
  request.set_event(cmd.event);
  request.set_data(cmd.data);
  request.set_idempotency_key(cmd.idempotency_key);
  request.mutable_tags()->insert(cmd.tags.begin(), cmd.tags.end());
  ++publishes_in_flight_;
  if (askPublishHook(frame_id, request)) {
    return;  // forwarded (or refused) once the backend answers
  }
  forwardPublish(frame_id, std::move(request));
}

// Hands a checked publication to herald-control; publishes_in_flight_ already counts it.
void ClientSession::forwardPublish(std::optional<uint64_t> frame_id,
                                   herald::v1::ClientPublish request) {
  const uint64_t id = shard_->nextPublishId();
  request.set_request_id(id);
  request.set_user(user_);
  request.set_client(clientId());
  if (!shard_->node.uplink || !shard_->node.uplink->publish(request)) {
    --publishes_in_flight_;
    shard_->counters.publish_failed.fetch_add(1, std::memory_order_relaxed);
    sendError(frame_id,
              Status(ErrorCode::kUnavailable,
                     "herald-control is not reachable from this node; nothing was published"));
    return;
  }
  shard_->publishes.add(id, {this, frame_id, steadyMillis() + kPublishTimeoutMs});
}

Status ClientSession::checkPublish(const std::string& channel) const {
  auto name = checkChannelName(channel);
  if (!name.isOk()) {
    return name.status();
  }
  const herald::v1::Namespace& ns = shard_->settings->namespaceFor(name->ns);
  if (!ns.allow_client_publish()) {
    return Status(ErrorCode::kPermissionDenied,
                  "client publish is not allowed in namespace '" + std::string(name->ns) + "'");
  }
  if (ns.subscribe_rule() == herald::v1::SUBSCRIBE_RULE_HOOK) {
    // Who may read is the backend's answer, which this connection has only for what it holds.
    if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end()) {
      return Status(ErrorCode::kPermissionDenied,
                    "publish refused: channel '" + channel +
                        "': subscribe first (the backend decides who may read it)");
    }
    return Status::ok();
  }
  // Whoever may not read a channel may not write to it either.
  Status readable = checkSubscribe(ns, name.value(), channel, claims_.get());
  if (!readable.isOk()) {
    return Status(readable.code(), "publish refused: " + readable.message());
  }
  return Status::ok();
}

void ClientSession::onPublishResult(const herald::v1::ClientPublishResult& result,
                                    std::optional<uint64_t> frame_id) {
  --publishes_in_flight_;
  if (!result.error().empty()) {
    shard_->counters.publish_failed.fetch_add(1, std::memory_order_relaxed);
    send(buildErrorFrame(frame_id, errorCodeFromName(result.error()), result.message()));
    return;
  }
  shard_->counters.client_publishes.fetch_add(1, std::memory_order_relaxed);
  send(buildPublishReplyFrame(frame_id, result.offset(), result.epoch(), result.duplicate()));
}

void ClientSession::onPublishTimeout(std::optional<uint64_t> frame_id) {
  --publishes_in_flight_;
  shard_->counters.publish_failed.fetch_add(1, std::memory_order_relaxed);
  send(buildErrorFrame(frame_id, ErrorCode::kUnavailable,
                       "no answer from herald-control within " +
                           std::to_string(kPublishTimeoutMs / 1000) +
                           " s: the publication may or may not have been published; "
                           "retry with the same idempotency_key"));
}

}  // namespace herald::node
