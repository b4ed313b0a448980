#include "controlplane/client_publish.h"

#include "common/channel_name.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/publication_tags.h"
#include "controlplane/control_service.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
herald::v1::ClientPublishResult refusedClientPublish(uint64_t request_id, ErrorCode code,
                                                     const std::string& message) {
  herald::v1::ClientPublishResult result;
  result.set_request_id(request_id);
  result.set_error(errorCodeName(code));
  result.set_message(message);
  return result;
}

std::string clientIdempotencyKey(const std::string& user, const std::string& client,
                                 const std::string& key) {
  // Length-prefixed scope: no two (scope, key) pairs make the same string.
  const std::string scope = user.empty() ? "a" + client : "u" + user;
  return "c" + std::to_string(scope.size()) + ":" + scope + ":" + key;
}

std::string backendIdempotencyKey(const std::string& key) { return key.empty() ? key : "b:" + key; }

herald::v1::ClientPublishResult publishForClient(const ConfigStore& store, StreamEngine& engine,
                                                 const herald::v1::ClientPublish& request) {
  const uint64_t id = request.request_id();
  auto name = checkChannelName(request.channel());
  if (!name.isOk()) {
    return refusedClientPublish(id, name.status().code(), name.status().message());
  }
  const ConfigSnapshotPtr config = store.snapshot();
  const herald::v1::Namespace* ns = namespaceFor(*config, name->ns);
  if (ns == nullptr || !ns->allow_client_publish()) {
    return refusedClientPublish(
        id, ErrorCode::kPermissionDenied,
        "client publish is not allowed in namespace '" + std::string(name->ns) + "'");
  }
  if (Status body =
          checkPublicationBody(request.data(), request.event(), request.idempotency_key());
      !body.isOk()) {
    return refusedClientPublish(id, body.code(), body.message());
  }
  if (Status tags = checkTagMap(request.tags()); !tags.isOk()) {
    return refusedClientPublish(id, tags.code(), tags.message());
  }
  std::string key;
  if (!request.idempotency_key().empty()) {
    key = clientIdempotencyKey(request.user(), request.client(), request.idempotency_key());
  }
  PublishItem item;
  item.channel = request.channel();
  item.event = request.event();
  item.data = request.data();
  item.idempotency_key = std::move(key);
  item.tags.insert(request.tags().begin(), request.tags().end());
  item.accepted_unix_us = unixMicros();
  item.ts_unix_ms = item.accepted_unix_us / 1000;
  item.history = historyPolicyFor(*config, name->ns);
  item.publisher = PublisherInfo{request.user(), request.client()};
  PublishOutcome out = engine.publish(item);
  if (!out.status.isOk()) {
    // The stream store's own words (Redis addresses...) stay in herald-control's log.
    componentLogger("link")->warn("client publish to {} failed: {}", request.channel(),
                                  out.status.message());
    return refusedClientPublish(id, ErrorCode::kUnavailable,
                                "herald-control could not store the publication right now; "
                                "retry with the same idempotency_key");
  }
  herald::v1::ClientPublishResult result;
  result.set_request_id(id);
  result.set_offset(out.offset);
  result.set_epoch(out.epoch);
  result.set_duplicate(out.duplicate);
  return result;
}

}  // namespace herald::control
