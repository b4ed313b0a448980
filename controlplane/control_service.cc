#include "controlplane/control_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/channel_name.h"
#include "common/clock.h"
#include "common/version.h"
#include "controlplane/client_publish.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
namespace {

using grpc::StatusCode;

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr size_t kMaxBatch = 10000;
constexpr uint32_t kDefaultHistoryLimit = 100;
constexpr uint32_t kMaxHistoryLimit = 10000;
// Keeps a History response well under gRPC's default 4 MiB client limit.
constexpr size_t kMaxHistoryResponseBytes = 2 << 20;

// Page tokens carry the last name returned, behind a prefix so that the empty name (the
// default namespace) is a token too; an empty token means "from the start".
constexpr char kPageTokenPrefix[] = "after:";

bool pageTokenValid(const std::string& token) {
  return token.empty() || token.rfind(kPageTokenPrefix, 0) == 0;
}

// True when `name` was already returned on an earlier page.
bool beforeToken(const std::string& name, const std::string& token) {
  return !token.empty() && name <= token.substr(sizeof(kPageTokenPrefix) - 1);
}

std::string tokenAfter(const std::string& name) { return kPageTokenPrefix + name; }

uint32_t pageSize(uint32_t requested) {
  if (requested == 0) {
    return kDefaultPageSize;
  }
  return std::min(requested, kMaxPageSize);
}

}  // namespace

grpc::Status toGrpc(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk:
      return grpc::Status::OK;
    case ErrorCode::kBadRequest:
    case ErrorCode::kTooLarge:
      return grpc::Status(StatusCode::INVALID_ARGUMENT, status.message());
    case ErrorCode::kUnauthorized:
      return grpc::Status(StatusCode::UNAUTHENTICATED, status.message());
    case ErrorCode::kPermissionDenied:
      return grpc::Status(StatusCode::PERMISSION_DENIED, status.message());
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kRateLimited:
      return grpc::Status(StatusCode::RESOURCE_EXHAUSTED, status.message());
    case ErrorCode::kNotFound:
      return grpc::Status(StatusCode::NOT_FOUND, status.message());
    case ErrorCode::kAlreadyExists:
      return grpc::Status(StatusCode::ALREADY_EXISTS, status.message());
    case ErrorCode::kUnavailable:
      return grpc::Status(StatusCode::UNAVAILABLE, status.message());
    case ErrorCode::kConflict:
      return grpc::Status(StatusCode::ABORTED, status.message());
    case ErrorCode::kInternal:
      break;
  }
  return grpc::Status(StatusCode::INTERNAL, status.message());
}

// ------------------------------------------------------------------------ namespaces, limits

grpc::Status ControlService::CreateNamespace(Ctx* ctx,
                                             const herald::v1::CreateNamespaceRequest* req,
                                             herald::v1::CreateNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "CreateNamespace"); !denied.ok()) {
    return denied;
  }
  auto result = store_.createNamespace(req->namespace_());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_namespace_() = result.value();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetNamespace(Ctx* ctx, const herald::v1::GetNamespaceRequest* req,
                                          herald::v1::GetNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "GetNamespace"); !denied.ok()) {
    return denied;
  }
  auto result = store_.getNamespace(req->name());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_namespace_() = result.value();
  return grpc::Status::OK;
}

grpc::Status ControlService::UpdateNamespace(Ctx* ctx,
                                             const herald::v1::UpdateNamespaceRequest* req,
                                             herald::v1::UpdateNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "UpdateNamespace"); !denied.ok()) {
    return denied;
  }
  auto result = store_.updateNamespace(req->namespace_());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_namespace_() = result.value();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::DeleteNamespace(Ctx* ctx,
                                             const herald::v1::DeleteNamespaceRequest* req,
                                             herald::v1::DeleteNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "DeleteNamespace"); !denied.ok()) {
    return denied;
  }
  Status s = store_.deleteNamespace(req->name());
  if (!s.isOk()) {
    return toGrpc(s);
  }
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::ListNamespaces(Ctx* ctx, const herald::v1::ListNamespacesRequest* req,
                                            herald::v1::ListNamespacesResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "ListNamespaces"); !denied.ok()) {
    return denied;
  }
  if (!pageTokenValid(req->page_token())) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "page_token was not returned by this RPC");
  }
  const uint32_t limit = pageSize(req->page_size());
  for (const auto& ns : store_.listNamespaces()) {  // sorted by name
    if (beforeToken(ns.name(), req->page_token())) {
      continue;
    }
    if (static_cast<uint32_t>(resp->namespaces_size()) == limit) {
      resp->set_next_page_token(tokenAfter(resp->namespaces(resp->namespaces_size() - 1).name()));
      break;
    }
    *resp->add_namespaces() = ns;
  }
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetLimits(Ctx* ctx, const herald::v1::GetLimitsRequest*,
                                       herald::v1::GetLimitsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "GetLimits"); !denied.ok()) {
    return denied;
  }
  *resp->mutable_limits() = store_.limits();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::SetLimits(Ctx* ctx, const herald::v1::SetLimitsRequest* req,
                                       herald::v1::SetLimitsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "SetLimits"); !denied.ok()) {
    return denied;
  }
  auto result = store_.setLimits(req->limits());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_limits() = result.value();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetAuthSettings(Ctx* ctx, const herald::v1::GetAuthSettingsRequest*,
                                             herald::v1::GetAuthSettingsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "GetAuthSettings"); !denied.ok()) {
    return denied;
  }
  *resp->mutable_auth() = redactAuthSettings(store_.auth());
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::SetAuthSettings(Ctx* ctx,
                                             const herald::v1::SetAuthSettingsRequest* req,
                                             herald::v1::SetAuthSettingsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "SetAuthSettings"); !denied.ok()) {
    return denied;
  }
  auto result = store_.setAuth(req->auth());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_auth() = redactAuthSettings(result.value());
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

// ------------------------------------------------------------------------ API keys

grpc::Status ControlService::authorize(Ctx* ctx, Need need, const char* rpc) const {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  std::optional<herald::v1::ApiKeyRole> role;
  if (it != md.end()) {
    const std::string value(it->second.data(), it->second.size());
    constexpr char kBearer[] = "Bearer ";
    if (value.rfind(kBearer, 0) == 0) {
      role = keys_.roleOf(value.substr(sizeof(kBearer) - 1));
    }
  }
  if (!role) {
    return grpc::Status(StatusCode::UNAUTHENTICATED,
                        "missing or unknown API key: send metadata 'authorization: Bearer <key>' "
                        "(heraldctl: --api-key or HERALD_API_KEY)");
  }
  const bool ok = *role == herald::v1::API_KEY_ROLE_ADMIN ||
                  (need == Need::kPublisher && *role == herald::v1::API_KEY_ROLE_PUBLISHER) ||
                  (need == Need::kReader && *role == herald::v1::API_KEY_ROLE_READER);
  if (!ok) {
    return grpc::Status(
        StatusCode::PERMISSION_DENIED,
        std::string("an API key with role ") + roleName(*role) + " may not call " + rpc);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::CreateApiKey(Ctx* ctx, const herald::v1::CreateApiKeyRequest* req,
                                          herald::v1::CreateApiKeyResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "CreateApiKey"); !denied.ok()) {
    return denied;
  }
  auto created = keys_.create(req->name(), req->role());
  if (!created.isOk()) {
    return toGrpc(created.status());
  }
  *resp->mutable_key() = created->key;
  resp->set_secret(created->secret);
  return grpc::Status::OK;
}

grpc::Status ControlService::ListApiKeys(Ctx* ctx, const herald::v1::ListApiKeysRequest*,
                                         herald::v1::ListApiKeysResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "ListApiKeys"); !denied.ok()) {
    return denied;
  }
  for (auto& key : keys_.list()) {
    *resp->add_keys() = std::move(key);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::RevokeApiKey(Ctx* ctx, const herald::v1::RevokeApiKeyRequest* req,
                                          herald::v1::RevokeApiKeyResponse*) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "RevokeApiKey"); !denied.ok()) {
    return denied;
  }
  return toGrpc(keys_.revoke(req->id()));
}

// ------------------------------------------------------------------------ delivery

grpc::Status ControlService::publishOne(const herald::v1::PublishRequest& req,
                                        herald::v1::PublishResponse* resp) {
  auto name = checkChannelName(req.channel());
  if (!name.isOk()) {
    return toGrpc(name.status());
  }
  if (Status body = checkPublicationBody(req.data(), req.event(), req.idempotency_key());
      !body.isOk()) {
    return toGrpc(body);
  }
  return publishValidated(req, name->ns, resp);
}

grpc::Status ControlService::publishValidated(const herald::v1::PublishRequest& req,
                                              std::string_view ns,
                                              herald::v1::PublishResponse* resp) {
  const HistoryPolicy history = historyPolicyFor(*store_.snapshot(), ns);
  PublishOutcome out = channels_.publish(req.channel(), req.event(), req.data(),
                                         backendIdempotencyKey(req.idempotency_key()), unixMillis(),
                                         history, router_, PublisherInfo{});
  if (!out.status.isOk()) {
    return toGrpc(out.status);
  }
  resp->set_offset(out.offset);
  resp->set_epoch(out.epoch);
  resp->set_nodes(out.nodes);
  resp->set_duplicate(out.duplicate);
  return grpc::Status::OK;
}

grpc::Status ControlService::Publish(Ctx* ctx, const herald::v1::PublishRequest* req,
                                     herald::v1::PublishResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kPublisher, "Publish"); !denied.ok()) {
    return denied;
  }
  if (ctx->IsCancelled()) {
    return grpc::Status(StatusCode::CANCELLED, "caller cancelled");
  }
  return publishOne(*req, resp);
}

grpc::Status ControlService::PublishBatch(Ctx* ctx, const herald::v1::PublishBatchRequest* req,
                                          herald::v1::PublishBatchResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kPublisher, "PublishBatch"); !denied.ok()) {
    return denied;
  }
  if (req->publications_size() == 0) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "publications is empty");
  }
  if (static_cast<size_t>(req->publications_size()) > kMaxBatch) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "at most " + std::to_string(kMaxBatch) + " publications per batch");
  }
  // Validate all first so a batch is accepted whole or not at all.
  for (int i = 0; i < req->publications_size(); ++i) {
    const auto& p = req->publications(i);
    auto name = parseChannelName(p.channel());
    const Status body = checkPublicationBody(p.data(), p.event(), p.idempotency_key());
    if (!name.isOk() || !body.isOk()) {
      const std::string why = !name.isOk() ? name.status().message() : body.message();
      return grpc::Status(StatusCode::INVALID_ARGUMENT,
                          "publications[" + std::to_string(i) + "]: " + why);
    }
  }
  // Validated above: publish without parsing the JSON a second time, 1,024 at a time.
  // IsCancelled() polls the completion queue (a syscall): ask between chunks only.
  const ConfigSnapshotPtr config = store_.snapshot();
  constexpr int kChunk = 1024;
  for (int start = 0; start < req->publications_size(); start += kChunk) {
    if (start > 0 && ctx->IsCancelled()) {
      return grpc::Status(StatusCode::CANCELLED, "caller cancelled mid-batch");
    }
    std::vector<PublishItem> items;
    const int end = std::min(req->publications_size(), start + kChunk);
    items.reserve(end - start);
    const int64_t now = unixMillis();
    for (int i = start; i < end; ++i) {
      const auto& p = req->publications(i);
      PublishItem item;
      item.channel = p.channel();
      item.event = p.event();
      item.data = p.data();
      item.idempotency_key = backendIdempotencyKey(p.idempotency_key());
      item.ts_unix_ms = now;
      item.history = historyPolicyFor(*config, parseChannelName(p.channel())->ns);
      items.push_back(std::move(item));
    }
    const std::vector<PublishOutcome> outcomes = channels_.publishBatch(items, router_);
    for (size_t k = 0; k < outcomes.size(); ++k) {
      const PublishOutcome& out = outcomes[k];
      if (!out.status.isOk()) {
        const int i = start + static_cast<int>(k);
        // Entries before it are out (and delivered); with several Redis instances, later
        // entries on other instances may be too.
        return grpc::Status(toGrpc(out.status).error_code(),
                            "publications[" + std::to_string(i) + "] (after " + std::to_string(i) +
                                " published): " + out.status.message());
      }
      auto* result = resp->add_results();
      result->set_offset(out.offset);
      result->set_epoch(out.epoch);
      result->set_nodes(out.nodes);
      result->set_duplicate(out.duplicate);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::PublishStream(Ctx* ctx,
                                           grpc::ServerReader<herald::v1::PublishRequest>* reader,
                                           herald::v1::PublishStreamResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kPublisher, "PublishStream"); !denied.ok()) {
    return denied;
  }
  herald::v1::PublishRequest req;
  herald::v1::PublishResponse out;
  while (reader->Read(&req)) {
    out.Clear();
    grpc::Status s = publishOne(req, &out);
    if (!s.ok()) {
      return grpc::Status(s.error_code(), "publication " + std::to_string(resp->published()) +
                                              " (after " + std::to_string(resp->published()) +
                                              " accepted): " + s.error_message());
    }
    resp->set_published(resp->published() + 1);
    if (out.duplicate()) {
      resp->set_duplicates(resp->duplicates() + 1);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::Broadcast(Ctx* ctx, const herald::v1::BroadcastRequest* req,
                                       herald::v1::BroadcastResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kPublisher, "Broadcast"); !denied.ok()) {
    return denied;
  }
  grpc::Status payload = toGrpc(checkPublicationPayload(req->data(), req->event()));
  if (!payload.ok()) {
    return payload;
  }
  if (req->channels_size() > 0) {
    for (const auto& channel : req->channels()) {
      auto name = checkChannelName(channel);
      if (!name.isOk()) {
        return toGrpc(name.status());
      }
    }
    uint32_t nodes = 0;
    for (const auto& channel : req->channels()) {
      herald::v1::PublishRequest one;
      one.set_channel(channel);
      one.set_data(req->data());
      one.set_event(req->event());
      auto* result = resp->add_results();
      grpc::Status s = publishOne(one, result);
      if (!s.ok()) {
        return s;
      }
      nodes = std::max(nodes, result->nodes());
    }
    resp->set_nodes(nodes);
    return grpc::Status::OK;
  }
  auto message = std::make_shared<herald::v1::ControlMessage>();
  auto* deliver = message->mutable_deliver();
  deliver->set_target(herald::v1::DELIVERY_TARGET_ALL);
  deliver->mutable_publication()->set_data(req->data());
  deliver->mutable_publication()->set_event(req->event());
  deliver->mutable_publication()->set_ts_unix_ms(unixMillis());
  ControlMessagePtr shared = std::move(message);
  resp->set_nodes(router_.forAll([&](NodeSink& node) { node.send(shared); }));
  return grpc::Status::OK;
}

grpc::Status ControlService::SendToUser(Ctx* ctx, const herald::v1::SendToUserRequest* req,
                                        herald::v1::SendToUserResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kPublisher, "SendToUser"); !denied.ok()) {
    return denied;
  }
  if (req->user().empty() || req->user().size() > 256) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "user must be 1..256 bytes");
  }
  grpc::Status payload = toGrpc(checkPublicationPayload(req->data(), req->event()));
  if (!payload.ok()) {
    return payload;
  }
  PublishOutcome out =
      channels_.sendToUser(req->user(), req->event(), req->data(), unixMillis(),
                           userHistoryPolicy(store_.snapshot()->limits()), router_);
  if (!out.status.isOk()) {
    return toGrpc(out.status);
  }
  resp->set_nodes(out.nodes);
  resp->set_offset(out.offset);
  resp->set_epoch(out.epoch);
  return grpc::Status::OK;
}

grpc::Status ControlService::Disconnect(Ctx* ctx, const herald::v1::DisconnectRequest* req,
                                        herald::v1::DisconnectResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kPublisher, "Disconnect"); !denied.ok()) {
    return denied;
  }
  if (req->user().empty() && req->client().empty()) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "give user, client, or both");
  }
  if (req->code() != 0 && (req->code() < 4000 || req->code() > 4999)) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "code must be an application close code 4000..4999 (default 4100)");
  }
  if (req->reason().size() > 120) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "reason longer than 120 bytes");
  }
  auto message = std::make_shared<herald::v1::ControlMessage>();
  auto* cmd = message->mutable_disconnect();
  cmd->set_user(req->user());
  cmd->set_client(req->client());
  cmd->set_code(req->code() == 0 ? 4100 : req->code());
  cmd->set_reason(req->reason().empty() ? "disconnected by server" : req->reason());
  ControlMessagePtr shared = std::move(message);
  auto visit = [&](NodeSink& node) { node.send(shared); };
  // A client id alone does not say which node holds it: ask every node.
  resp->set_nodes(req->client().empty() ? router_.forUser(req->user(), visit)
                                        : router_.forAll(visit));
  return grpc::Status::OK;
}

// ------------------------------------------------------------------------ reading

grpc::Status ControlService::ListNodes(Ctx* ctx, const herald::v1::ListNodesRequest*,
                                       herald::v1::ListNodesResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "ListNodes"); !denied.ok()) {
    return denied;
  }
  std::string unavailable;
  *resp = clusterNodes(false, &unavailable);
  if (!unavailable.empty()) {
    // Nodes keep serving while Redis is away: show what this replica knows, and say why.
    ctx->AddTrailingMetadata("herald-partial", unavailable);
  }
  return grpc::Status::OK;
}

herald::v1::ListNodesResponse ControlService::selfEntry() const {
  const Identity me = identity();
  herald::v1::ListNodesResponse out;
  for (const auto& session : nodes_.live()) {
    auto* info = out.add_nodes();
    *info = session->info();
    info->set_replica(me.replica_id);
  }
  auto* self = out.add_replicas();
  self->set_replica_id(me.replica_id);
  self->set_engine(me.engine);
  self->set_started_unix_ms(started_unix_ms_);
  self->set_last_seen_unix_ms(unixMillis());
  self->set_healthy(true);
  self->set_nodes(static_cast<uint32_t>(out.nodes_size()));
  self->set_publications(channels_.publications());
  return out;
}

herald::v1::ListNodesResponse ControlService::clusterNodes(bool live_only,
                                                           std::string* unavailable) const {
  const Identity me = identity();
  herald::v1::ListNodesResponse out;
  std::map<std::string, herald::v1::NodeInfo> by_id;
  auto keep = [&](herald::v1::NodeInfo info) {
    auto it = by_id.find(info.node_id());
    // A node that moved between replicas shows once: where it reported last.
    if (it == by_id.end() || info.last_heartbeat_unix_ms() > it->second.last_heartbeat_unix_ms()) {
      by_id[info.node_id()] = std::move(info);
    }
  };
  herald::v1::ListNodesResponse self = selfEntry();
  if (live_only) {
    for (const auto& info : self.nodes()) {
      keep(info);
    }
  } else {
    for (auto& info : nodes_.list()) {
      info.set_replica(me.replica_id);
      keep(std::move(info));
    }
  }
  if (me.replicas != nullptr) {
    *out.add_replicas() = self.replicas(0);
    out.mutable_replicas(0)->set_self(true);
    auto all = me.replicas->all(unixMillis());
    if (!all.isOk()) {
      *unavailable = all.status().message();
    } else {
      for (auto& entry : all.value()) {
        if (entry.replicas(0).replica_id() == me.replica_id) {
          continue;  // ours is fresher
        }
        *out.add_replicas() = entry.replicas(0);
        for (auto& info : *entry.mutable_nodes()) {
          keep(std::move(info));
        }
      }
    }
  }
  for (auto& [id, info] : by_id) {
    *out.add_nodes() = std::move(info);
  }
  return out;
}

grpc::Status ControlService::ListChannels(Ctx* ctx, const herald::v1::ListChannelsRequest* req,
                                          herald::v1::ListChannelsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "ListChannels"); !denied.ok()) {
    return denied;
  }
  if (!pageTokenValid(req->page_token())) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "page_token was not returned by this RPC");
  }
  const uint32_t limit = pageSize(req->page_size());
  auto listed = channels_.list();
  if (!listed.isOk()) {
    return toGrpc(listed.status());
  }
  auto& states = listed.value();
  const auto interest = router_.channelsWithInterest();
  for (const auto& [name, nodes] : interest) {
    states.emplace(name, StreamEngine::ChannelState{});
  }
  for (const auto& [name, state] : states) {
    if (name.compare(0, req->prefix().size(), req->prefix()) != 0) {
      continue;
    }
    if (beforeToken(name, req->page_token())) {
      continue;
    }
    if (static_cast<uint32_t>(resp->channels_size()) == limit) {
      resp->set_next_page_token(tokenAfter(resp->channels(resp->channels_size() - 1).channel()));
      break;
    }
    auto* info = resp->add_channels();
    info->set_channel(name);
    info->set_offset(state.offset);
    info->set_epoch(state.epoch);
    auto it = interest.find(name);
    info->set_nodes(it == interest.end() ? 0 : it->second);
    info->set_history(state.history);
  }
  // Subscriber counts live on the nodes: ask them all (one message each) about the channels
  // of this page that have interest.
  herald::v1::PresenceQuery query;
  for (const auto& info : resp->channels()) {
    if (info.nodes() > 0) {
      query.add_count_channels(info.channel());
    }
  }
  if (query.count_channels_size() > 0) {
    auto gathered = presence_.ask(
        std::move(query),
        [&](const Router::Visit& visit) {
          return router_.forAll([&](NodeSink& node) { visit(node); });
        },
        kPresenceTimeout);
    std::map<std::string, uint64_t> counts;
    for (const auto& reply : gathered.replies) {
      for (const auto& count : reply.counts()) {
        counts[count.channel()] += count.subscribers();
      }
    }
    for (auto& info : *resp->mutable_channels()) {
      auto it = counts.find(info.channel());
      info.set_subscribers(it == counts.end() ? 0 : it->second);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::History(Ctx* ctx, const herald::v1::HistoryRequest* req,
                                     herald::v1::HistoryResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "History"); !denied.ok()) {
    return denied;
  }
  if (req->channel().empty() == req->user().empty()) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "give either channel or user");
  }
  if (!req->channel().empty()) {
    auto name = checkChannelName(req->channel());
    if (!name.isOk()) {
      return toGrpc(name.status());
    }
  } else if (req->user().size() > 256) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "user must be 1..256 bytes");
  }
  if (req->limit() > kMaxHistoryLimit) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "limit is at most 10000");
  }
  HistoryQuery query;
  query.since = req->since_offset();
  query.epoch = req->epoch();
  query.limit = req->limit() == 0 ? kDefaultHistoryLimit : req->limit();
  query.max_bytes = kMaxHistoryResponseBytes;
  const int64_t now = steadyMillis();
  HistoryResult result = req->user().empty() ? channels_.history(req->channel(), query, now)
                                             : channels_.userHistory(req->user(), query, now);
  if (!result.status.isOk()) {
    return toGrpc(result.status);
  }
  for (const auto& pub : result.publications) {
    *resp->add_publications() = *pub;
  }
  resp->set_offset(result.offset);
  resp->set_epoch(result.epoch);
  resp->set_recovered(result.recovered);
  return grpc::Status::OK;
}

grpc::Status ControlService::Presence(Ctx* ctx, const herald::v1::PresenceRequest* req,
                                      herald::v1::PresenceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "Presence"); !denied.ok()) {
    return denied;
  }
  auto name = checkChannelName(req->channel());
  if (!name.isOk()) {
    return toGrpc(name.status());
  }
  herald::v1::PresenceQuery query;
  query.set_channel(req->channel());
  query.set_max_entries(kPresenceEntriesPerNode);
  auto gathered = presence_.ask(
      std::move(query),
      [&](const Router::Visit& visit) { return router_.forChannel(req->channel(), visit); },
      kPresenceTimeout);
  std::set<std::string> users;
  uint64_t connections = 0;
  for (auto& reply : gathered.replies) {
    connections += reply.connections();
    resp->set_truncated(resp->truncated() || reply.truncated());
    for (auto& entry : *reply.mutable_entries()) {
      if (!entry.user().empty()) {
        users.insert(entry.user());
      }
      *resp->add_entries() = std::move(entry);
    }
  }
  std::sort(resp->mutable_entries()->begin(), resp->mutable_entries()->end(),
            [](const auto& a, const auto& b) {
              return std::tie(a.user(), a.client()) < std::tie(b.user(), b.client());
            });
  resp->set_connections(connections);
  resp->set_users(static_cast<uint32_t>(users.size()));
  resp->set_nodes_unanswered(gathered.asked - static_cast<uint32_t>(gathered.replies.size()));
  return grpc::Status::OK;
}

grpc::Status ControlService::ClusterStats(Ctx* ctx, const herald::v1::ClusterStatsRequest*,
                                          herald::v1::ClusterStatsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "ClusterStats"); !denied.ok()) {
    return denied;
  }
  std::string unavailable;
  const herald::v1::ListNodesResponse cluster = clusterNodes(true, &unavailable);
  if (!unavailable.empty()) {
    ctx->AddTrailingMetadata("herald-partial", unavailable);
  }
  for (const auto& info : cluster.nodes()) {
    resp->set_nodes(resp->nodes() + 1);
    if (info.health() == herald::v1::NODE_HEALTH_HEALTHY) {
      resp->set_healthy_nodes(resp->healthy_nodes() + 1);
    }
    resp->set_connections(resp->connections() + info.connections());
    resp->set_users(resp->users() + info.users());
    resp->set_subscriptions(resp->subscriptions() + info.subscriptions());
    resp->set_messages_in(resp->messages_in() + info.messages_in());
    resp->set_messages_out(resp->messages_out() + info.messages_out());
  }
  resp->set_channels(router_.channelsWithInterest().size());
  resp->set_publications(channels_.publications());
  resp->set_replicas(1);
  resp->set_healthy_replicas(1);
  if (cluster.replicas_size() > 0) {
    resp->set_publications(0);
    resp->set_replicas(0);
    resp->set_healthy_replicas(0);
    for (const auto& replica : cluster.replicas()) {
      resp->set_publications(resp->publications() + replica.publications());
      resp->set_replicas(resp->replicas() + 1);
      resp->set_healthy_replicas(resp->healthy_replicas() + (replica.healthy() ? 1 : 0));
    }
  }
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::Info(Ctx* ctx, const herald::v1::InfoRequest*,
                                  herald::v1::InfoResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "Info"); !denied.ok()) {
    return denied;
  }
  resp->set_version(kVersion);
  resp->set_build(std::string("herald-control ") + kVersion);
  const Identity me = identity();
  resp->set_engine(me.engine);
  resp->set_config_version(store_.version());
  resp->set_started_unix_ms(started_unix_ms_);
  resp->set_grpc_listen(me.listen_address);
  return grpc::Status::OK;
}

}  // namespace herald::control
