#include "controlplane/client_publish.h"

#include "common/channel_name.h"
#include "common/clock.h"
#include "controlplane/control_service.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
namespace {

herald::v1::ClientPublishResult refused(uint64_t request_id, ErrorCode code,
                                        const std::string& message) {
  herald::v1::ClientPublishResult result;
  result.set_request_id(request_id);
  result.set_error(errorCodeName(code));
  result.set_message(message);
  return result;
}

}  // namespace

herald::v1::ClientPublishResult publishForClient(const ConfigStore& store, StreamEngine& engine,
                                                 const Router& router,
                                                 const herald::v1::ClientPublish& request) {
  const uint64_t id = request.request_id();
  auto name = parseChannelName(request.channel());
  if (!name.isOk()) {
    return refused(
        id, ErrorCode::kBadRequest,
        "channel '" + request.channel().substr(0, 300) + "': " + name.status().message());
  }
  const ConfigSnapshotPtr config = store.snapshot();
  const herald::v1::Namespace* ns = namespaceFor(*config, name->ns);
  if (ns == nullptr || !ns->allow_client_publish()) {
    return refused(id, ErrorCode::kPermissionDenied,
                   "client publish is not allowed in namespace '" + std::string(name->ns) + "'");
  }
  if (grpc::Status payload = validatePayload(request.data(), request.event()); !payload.ok()) {
    return refused(id, ErrorCode::kBadRequest, payload.error_message());
  }
  if (request.idempotency_key().size() > kMaxClientIdempotencyKey) {
    return refused(id, ErrorCode::kBadRequest, "idempotency_key longer than 256 bytes");
  }
  // "c:" keeps client keys apart from the Control API's; the user keeps users apart.
  std::string key;
  if (!request.idempotency_key().empty()) {
    key = "c:" + std::to_string(request.user().size()) + ":" + request.user() + ":" +
          request.idempotency_key();
  }
  PublishOutcome out = engine.publish(request.channel(), request.event(), request.data(), key,
                                      unixMillis(), historyPolicyFor(*config, name->ns), router,
                                      PublisherInfo{request.user(), request.client()});
  if (!out.status.isOk()) {
    return refused(id, out.status.code(), out.status.message());
  }
  herald::v1::ClientPublishResult result;
  result.set_request_id(id);
  result.set_offset(out.offset);
  result.set_epoch(out.epoch);
  result.set_duplicate(out.duplicate);
  return result;
}

}  // namespace herald::control
