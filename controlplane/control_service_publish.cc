// ControlService: publish (one, batch, stream), broadcast, send to a user.
#include "controlplane/control_service.h"

#include <algorithm>

#include "common/channel_name.h"
#include "common/clock.h"
#include "common/publication_tags.h"
#include "controlplane/client_publish.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
namespace {

constexpr size_t kMaxBatch = 10000;

}  // namespace

void ControlService::countPublication(const char* api, const herald::v1::ConfigSnapshot& config,
                                      std::string_view ns, std::string_view channel) {
  if (metrics_ != nullptr) {
    const std::string_view label = ControlMetrics::namespaceLabel(config, ns);
    metrics_->recordPublication(api, label, channel);
  }
}

Status ControlService::publishOne(const char* api, const herald::v1::PublishRequest& req,
                                  herald::v1::PublishResponse* resp) {
  auto name = checkChannelName(req.channel());
  if (!name.isOk()) {
    return name.status();
  }
  if (Status body = checkPublicationBody(req.data(), req.event(), req.idempotency_key());
      !body.isOk()) {
    return body;
  }
  if (Status tags = checkTagMap(req.tags()); !tags.isOk()) {
    return tags;
  }
  return publishValidated(api, req, name->ns, resp);
}

Status ControlService::publishValidated(const char* api, const herald::v1::PublishRequest& req,
                                        std::string_view ns, herald::v1::PublishResponse* resp) {
  const ConfigSnapshotPtr config = store_.snapshot();
  PublishItem item;
  item.channel = req.channel();
  item.event = req.event();
  item.data = req.data();
  item.idempotency_key = backendIdempotencyKey(req.idempotency_key());
  item.tags.insert(req.tags().begin(), req.tags().end());
  item.accepted_unix_us = unixMicros();
  item.ts_unix_ms = item.accepted_unix_us / 1000;
  item.history = historyPolicyFor(*config, ns);
  PublishOutcome out = channels_.publish(item);
  if (!out.status.isOk()) {
    return out.status;
  }
  if (!out.duplicate) {
    countPublication(api, *config, ns, req.channel());
  }
  resp->set_offset(out.offset);
  resp->set_epoch(out.epoch);
  resp->set_nodes(out.nodes);
  resp->set_duplicate(out.duplicate);
  return Status::ok();
}

grpc::Status ControlService::Publish(Ctx* ctx, const herald::v1::PublishRequest* req,
                                     herald::v1::PublishResponse* resp) {
  return guarded(ctx, Need::kPublisher, "Publish", [&]() -> Status {
    if (ctx->IsCancelled()) {
      return Status(ErrorCode::kCancelled, "caller cancelled");
    }
    return publishOne("Publish", *req, resp);
  });
}

grpc::Status ControlService::PublishBatch(Ctx* ctx, const herald::v1::PublishBatchRequest* req,
                                          herald::v1::PublishBatchResponse* resp) {
  return guarded(ctx, Need::kPublisher, "PublishBatch", [&]() -> Status {
    if (req->publications_size() == 0) {
      return Status(ErrorCode::kBadRequest, "publications is empty");
    }
    if (static_cast<size_t>(req->publications_size()) > kMaxBatch) {
      return Status(ErrorCode::kBadRequest,
                    "at most " + std::to_string(kMaxBatch) + " publications per batch");
    }
    // Validate all first so a batch is accepted whole or not at all.
    for (int i = 0; i < req->publications_size(); ++i) {
      const auto& p = req->publications(i);
      auto name = parseChannelName(p.channel());
      Status body = checkPublicationBody(p.data(), p.event(), p.idempotency_key());
      if (body.isOk()) {
        body = checkTagMap(p.tags());
      }
      if (!name.isOk() || !body.isOk()) {
        const std::string why = !name.isOk() ? name.status().message() : body.message();
        return Status(ErrorCode::kBadRequest, "publications[" + std::to_string(i) + "]: " + why);
      }
    }
    // Validated above: publish without parsing the JSON a second time, 1,024 at a time.
    // IsCancelled() polls the completion queue (a syscall): ask between chunks only.
    const ConfigSnapshotPtr config = store_.snapshot();
    constexpr int kChunk = 1024;
    for (int start = 0; start < req->publications_size(); start += kChunk) {
      if (start > 0 && ctx->IsCancelled()) {
        return Status(ErrorCode::kCancelled, "caller cancelled mid-batch");
      }
      std::vector<PublishItem> items;
      const int end = std::min(req->publications_size(), start + kChunk);
      items.reserve(end - start);
      const int64_t now_us = unixMicros();
      for (int i = start; i < end; ++i) {
        const auto& p = req->publications(i);
        PublishItem item;
        item.channel = p.channel();
        item.event = p.event();
        item.data = p.data();
        item.idempotency_key = backendIdempotencyKey(p.idempotency_key());
        item.tags.insert(p.tags().begin(), p.tags().end());
        item.accepted_unix_us = now_us;
        item.ts_unix_ms = now_us / 1000;
        item.history = historyPolicyFor(*config, parseChannelName(p.channel())->ns);
        items.push_back(std::move(item));
      }
      const std::vector<PublishOutcome> outcomes = channels_.publishBatch(items);
      for (size_t k = 0; k < outcomes.size(); ++k) {
        const PublishOutcome& out = outcomes[k];
        if (!out.status.isOk()) {
          const int i = start + static_cast<int>(k);
          // Entries before it are out (and delivered); with several Redis instances, later
          // entries on other instances may be too.
          return Status(out.status.code(), "publications[" + std::to_string(i) + "] (after " +
                                               std::to_string(i) +
                                               " published): " + out.status.message());
        }
        if (!out.duplicate) {
          countPublication("PublishBatch", *config, parseChannelName(items[k].channel)->ns,
                           items[k].channel);
        }
        auto* result = resp->add_results();
        result->set_offset(out.offset);
        result->set_epoch(out.epoch);
        result->set_nodes(out.nodes);
        result->set_duplicate(out.duplicate);
      }
    }
    return Status::ok();
  });
}

grpc::Status ControlService::PublishStream(Ctx* ctx,
                                           grpc::ServerReader<herald::v1::PublishRequest>* reader,
                                           herald::v1::PublishStreamResponse* resp) {
  return guarded(ctx, Need::kPublisher, "PublishStream", [&]() -> Status {
    herald::v1::PublishRequest req;
    herald::v1::PublishResponse out;
    while (reader->Read(&req)) {
      out.Clear();
      Status s = publishOne("PublishStream", req, &out);
      if (!s.isOk()) {
        return Status(s.code(), "publication " + std::to_string(resp->published()) + " (after " +
                                    std::to_string(resp->published()) +
                                    " accepted): " + s.message());
      }
      resp->set_published(resp->published() + 1);
      if (out.duplicate()) {
        resp->set_duplicates(resp->duplicates() + 1);
      }
    }
    return Status::ok();
  });
}

grpc::Status ControlService::Broadcast(Ctx* ctx, const herald::v1::BroadcastRequest* req,
                                       herald::v1::BroadcastResponse* resp) {
  return guarded(ctx, Need::kPublisher, "Broadcast", [&]() -> Status {
    if (Status payload = checkPublicationPayload(req->data(), req->event()); !payload.isOk()) {
      return payload;
    }
    if (Status tags = checkTagMap(req->tags()); !tags.isOk()) {
      return tags;
    }
    if (req->channels_size() > 0) {
      for (const auto& channel : req->channels()) {
        auto name = checkChannelName(channel);
        if (!name.isOk()) {
          return name.status();
        }
      }
      uint32_t nodes = 0;
      for (const auto& channel : req->channels()) {
        herald::v1::PublishRequest one;
        one.set_channel(channel);
        one.set_data(req->data());
        one.set_event(req->event());
        *one.mutable_tags() = req->tags();
        auto* result = resp->add_results();
        if (Status s = publishOne("Broadcast", one, result); !s.isOk()) {
          return s;
        }
        nodes = std::max(nodes, result->nodes());
      }
      resp->set_nodes(nodes);
      return Status::ok();
    }
    auto message = std::make_shared<herald::v1::ControlMessage>();
    auto* deliver = message->mutable_deliver();
    deliver->set_target(herald::v1::DELIVERY_TARGET_ALL);
    deliver->mutable_publication()->set_data(req->data());
    deliver->mutable_publication()->set_event(req->event());
    *deliver->mutable_publication()->mutable_tags() = req->tags();
    const int64_t now_us = unixMicros();
    deliver->mutable_publication()->set_ts_unix_ms(now_us / 1000);
    deliver->mutable_publication()->set_accepted_unix_us(now_us);
    ControlMessagePtr shared = std::move(message);
    resp->set_nodes(router_.forAll([&](NodeSink& node) { node.send(shared); }));
    if (metrics_ != nullptr) {
      metrics_->recordPublication("Broadcast", ControlMetrics::kEveryone);
    }
    return Status::ok();
  });
}

grpc::Status ControlService::SendToUser(Ctx* ctx, const herald::v1::SendToUserRequest* req,
                                        herald::v1::SendToUserResponse* resp) {
  return guarded(ctx, Need::kPublisher, "SendToUser", [&]() -> Status {
    if (req->user().empty() || req->user().size() > 256) {
      return Status(ErrorCode::kBadRequest, "user must be 1..256 bytes");
    }
    if (Status payload = checkPublicationPayload(req->data(), req->event()); !payload.isOk()) {
      return payload;
    }
    UserPublishItem item;
    item.user = req->user();
    item.event = req->event();
    item.data = req->data();
    item.accepted_unix_us = unixMicros();
    item.ts_unix_ms = item.accepted_unix_us / 1000;
    item.history = userHistoryPolicy(store_.snapshot()->limits());
    PublishOutcome out = channels_.sendToUser(item);
    if (!out.status.isOk()) {
      return out.status;
    }
    resp->set_nodes(out.nodes);
    resp->set_offset(out.offset);
    resp->set_epoch(out.epoch);
    if (metrics_ != nullptr) {
      metrics_->recordPublication("SendToUser", ControlMetrics::kUserStreams);
    }
    return Status::ok();
  });
}

}  // namespace herald::control
