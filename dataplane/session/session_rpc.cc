// ClientSession: a client's `rpc` frame (docs/protocol.md "RPC"), answered by the backend's
// rpc hook (docs/hooks.md). The call leaves the shard's thread; its answer is posted back and
// finds the session by request id, so a session that closed meanwhile is never touched.
#include "common/clock.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

// rpc frames of one connection waiting for the backend at once.
constexpr uint16_t kMaxRpcsInFlight = 16;

// For /metrics: how the hook answered, and how long the answers took.
void countRpc(ShardState& shard, const Result<herald::v1::RpcHookReply>& reply, int64_t micros) {
  auto& c = shard.counters;
  if (!reply.isOk()) {
    (reply.status().code() == ErrorCode::kUnavailable ? c.rpc_unavailable : c.rpc_refused)
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  (reply->has_error() ? c.rpc_backend_errors : c.rpc_answered)
      .fetch_add(1, std::memory_order_relaxed);
  c.rpc_duration.observeMicros(micros);
}

}  // namespace

void ClientSession::rpc(uint64_t frame_id, const ClientCommand& cmd) {
  if (rpcs_in_flight_ >= kMaxRpcsInFlight) {
    shard_->counters.rpc_refused.fetch_add(1, std::memory_order_relaxed);
    sendError(frame_id, Status(ErrorCode::kLimitExceeded,
                               "more than " + std::to_string(kMaxRpcsInFlight) +
                                   " rpc calls waiting for an answer; wait for their replies"));
    return;
  }
  if (shard_->node.hooks == nullptr) {
    shard_->counters.rpc_refused.fetch_add(1, std::memory_order_relaxed);
    sendError(frame_id, Status(ErrorCode::kNotFound, "this server has no rpc hook"));
    return;
  }
  herald::v1::RpcHookRequest request;
  *request.mutable_caller() = hookCaller();
  request.set_method(cmd.method);
  request.set_data(cmd.data);
  const uint64_t id = shard_->nextPublishId();  // one id space for the shard's requests
  ++rpcs_in_flight_;
  // No deadline here: the hook answers within its own timeout, and always answers.
  shard_->rpcs.add(id, {this, frame_id, 0, steadyMicros()});
  ShardState* shard = shard_;
  shard_->node.hooks->rpc(std::move(request), [shard, id](Result<herald::v1::RpcHookReply> r) {
    // On a hook thread (or this one, when refused at once): back to the shard's.
    auto reply = std::make_shared<Result<herald::v1::RpcHookReply>>(std::move(r));
    shard->post([shard, id, reply] {
      if (auto entry = shard->rpcs.take(id)) {
        countRpc(*shard, *reply, steadyMicros() - entry->started_us);
        entry->con->onRpcReply(*entry->frame_id, *reply);
      }
    });
  });
}

void ClientSession::onRpcReply(uint64_t frame_id, const Result<herald::v1::RpcHookReply>& reply) {
  --rpcs_in_flight_;
  if (!reply.isOk()) {
    sendError(frame_id, reply.status());
    return;
  }
  if (reply->has_error()) {
    send(buildRpcErrorFrame(frame_id, reply->error().code(), reply->error().message()));
    return;
  }
  send(buildRpcReplyFrame(frame_id, reply->data()));
}

}  // namespace herald::node
