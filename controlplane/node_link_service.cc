#include "controlplane/node_link_service.h"

#include <algorithm>
#include <atomic>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/channel_name.h"
#include "common/clock.h"
#include "common/join_leave_entries.h"
#include "common/logging.h"
#include "common/node_identity.h"
#include "controlplane/client_publish.h"
#include "controlplane/namespace_rules.h"
#include "controlplane/serial_worker.h"

namespace herald::control {

grpc::Status NodeLinkService::Session(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<herald::v1::ControlMessage, herald::v1::NodeMessage>* stream) {
  auto log = componentLogger("link");
  herald::v1::NodeMessage first;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    awaiting_hello_[context] = std::chrono::steady_clock::now();
  }
  const bool got_first = stream->Read(&first);
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    awaiting_hello_.erase(context);
  }
  if (!got_first) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream closed before Hello");
  }
  if (!first.has_hello()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first NodeLink message must be Hello");
  }
  const herald::v1::Hello& hello = first.hello();
  if (!validNodeId(hello.node_id())) {
    // Checked before it is logged: an id is printed in human logs and heraldctl tables.
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string("Hello.node_id must be ") + kNodeIdRule);
  }

  if (Status admitted = admission_.admit(hello.secret()); !admitted.isOk()) {
    log->warn("refused node {} from {}: {}", hello.node_id(), context->peer(), admitted.message());
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, admitted.message());
  }

  auto session = std::make_shared<NodeSession>(context, stream, hello, node_queue_limit_);
  const auto replaced = registry_.attach(session);
  if (replaced) {
    // Its user counts describe the same connections the new Hello reports: drop them first.
    announceUserLimits(
        users_.removeNode(replaced.get(), store_.limits().max_connections_per_user()));
  }
  router_.setNode(session,
                  std::vector<std::string>(hello.channels().begin(), hello.channels().end()),
                  std::vector<std::string>(hello.users().begin(), hello.users().end()));
  // A node's user counts are capped at what a node may hold (they block users cluster-wide).
  bool counts_refused = false;
  bool counts_warned = false;
  const auto report_users = [&](const auto& counts, bool full) {
    const auto& limits = store_.limits();
    const uint64_t node_max =
        limits.max_connections_per_node() > 0 ? limits.max_connections_per_node() : 1000000;
    announceUserLimits(users_.report(session.get(), counts, full, limits.max_connections_per_user(),
                                     node_max, &counts_refused));
    if (counts_refused && !counts_warned) {
      counts_warned = true;
      log->warn(
          "node {} reported user counts beyond max_connections_per_node or with invalid "
          "user ids: clamped/ignored",
          hello.node_id());
    }
  };
  report_users(hello.user_counts(), /*full=*/true);
  const uint64_t presence_generation =
      presence_events_ == nullptr
          ? 0
          : presence_events_->attached(
                hello.node_id(),
                std::vector<std::string>(hello.channels().begin(), hello.channels().end()),
                hello.user_counts(), hello.instance(), hello.reports_clients());
  session->startWriter();
  session->sendConfig(store_.snapshot());
  // This node may have missed blocks announced while it was away.
  for (const auto& user : users_.blocked()) {
    auto block = std::make_shared<herald::v1::ControlMessage>();
    block->mutable_user_limit()->set_user(user);
    block->mutable_user_limit()->set_blocked(true);
    session->send(std::move(block));
  }
  log->info("node {} connected from {} (listen {}, {} channels, {} users)", hello.node_id(),
            context->peer(), hello.listen_address(), hello.channels_size(), hello.users_size());

  // After the config (a slow relay must not hold the node's start), before this session's
  // reports: the leaves of the node's previous process go first.
  if (lost_nodes_ != nullptr) {
    if (replaced == nullptr) {
      lost_nodes_->attached(hello.node_id(), hello.instance(), session->generation());
    } else {
      lost_nodes_->attached(hello.node_id(), hello.instance(), session->generation(),
                            replaced->instance(), replaced->channels());
    }
  }

  // Client publications of this node, in order; dropped with the session when not started
  // (their shards answer `unavailable` after 5 s, and a late publish could duplicate a retry).
  SerialWorker publishes(kMaxQueuedClientPublishes);
  SerialWorker join_leaves(kMaxQueuedJoinLeaveReports);
  herald::v1::NodeMessage message;
  while (stream->Read(&message)) {
    switch (message.kind_case()) {
      case herald::v1::NodeMessage::kAck:
        session->recordAck(message.ack());
        break;
      case herald::v1::NodeMessage::kNack:
        session->recordNack(message.nack());
        break;
      case herald::v1::NodeMessage::kStats: {
        const NodeSession::StatsReport report = session->recordStats(message.stats());
        if (metrics_ != nullptr && report.follows_previous) {
          recordDeliveries(message.stats(), report.delivered);
        }
        if (report.became_draining) {
          // A draining node is letting its clients go: route nothing more to it.
          router_.removeNode(session.get());
          log->info("node {} is draining: removed from routing", hello.node_id());
        }
        if (message.stats().sent_steady_us() != 0) {
          auto echo = std::make_shared<herald::v1::ControlMessage>();
          echo->mutable_heartbeat_echo()->set_sent_steady_us(message.stats().sent_steady_us());
          session->send(std::move(echo));
        }
        break;
      }
      case herald::v1::NodeMessage::kInterest:
        router_.applyDelta(session.get(), message.interest());
        session->applyInterest(message.interest());
        if (presence_events_ != nullptr) {
          presence_events_->changed(hello.node_id(), presence_generation, message.interest());
        }
        if (message.interest().user_counts_size() > 0) {
          report_users(message.interest().user_counts(), /*full=*/false);
        }
        break;
      case herald::v1::NodeMessage::kRecover:
        if (auto reply = recover(channels_, message.recover())) {
          session->send(reply);
        }
        break;
      case herald::v1::NodeMessage::kPublish: {
        // Off the reader: with Redis a publish waits on a round trip, and heartbeats, acks
        // and interest must not queue behind a node's clients.
        auto request = std::make_shared<const herald::v1::ClientPublish>(message.publish());
        const bool queued = publishes.push([this, session, request] {
          auto reply = std::make_shared<herald::v1::ControlMessage>();
          *reply->mutable_published() = publishForClient(store_, channels_, *request);
          if (metrics_ != nullptr && reply->published().error().empty() &&
              !reply->published().duplicate()) {
            auto name = parseChannelName(request->channel());
            const std::string_view label =
                ControlMetrics::namespaceLabel(*store_.snapshot(), name.isOk() ? name->ns : "");
            metrics_->recordPublication("ClientPublish", label, request->channel(),
                                        request->user());
          }
          session->send(std::move(reply));
        });
        if (!queued) {
          auto reply = std::make_shared<herald::v1::ControlMessage>();
          *reply->mutable_published() = refusedClientPublish(
              request->request_id(), ErrorCode::kUnavailable,
              "herald-control is busy: too many client publications from this node are "
              "waiting; nothing was published");
          session->send(std::move(reply));
        }
        break;
      }
      case herald::v1::NodeMessage::kPresence:
        presence_.onReply(message.presence());
        break;
      case herald::v1::NodeMessage::kJoinLeave: {
        // Off the reader too (a PUBLISH to Redis); a backlog of reports means Redis is slow,
        // and stale joins are worth less than the node's other messages.
        auto report = std::make_shared<const herald::v1::JoinLeaveReport>(message.join_leave());
        // A session replaced meanwhile relays nothing more: its node's newer session (or the
        // leaves of its old process) already went out, and must not be overtaken.
        if (!join_leaves.push([this, session, report] {
              if (registry_.isLive(session.get())) {
                relayJoinLeave(session->nodeId(), *report);
              }
            }) &&
            metrics_ != nullptr) {
          metrics_->recordJoinLeave(false, joinLeaveEntries(*report));
        }
        break;
      }
      case herald::v1::NodeMessage::kHello:
        log->warn("node {} sent a second Hello; ignored", hello.node_id());
        break;
      case herald::v1::NodeMessage::KIND_NOT_SET:
        break;
    }
  }
  // A draining node's last reports carry its connections' leaves: relay them before it goes.
  join_leaves.drain(std::chrono::seconds(2));
  // Read before detach(), which marks every departing session unhealthy.
  const bool cut_for_silence = !session->healthy();
  registry_.detach(session, [&] {
    if (lost_nodes_ != nullptr) {
      // Gone for good unless it is back (same process) within node_timeout_ms.
      lost_nodes_->departed(hello.node_id(), session->generation(), session->channels(),
                            std::chrono::steady_clock::now());
    }
  });
  announceUserLimits(users_.removeNode(session.get(), store_.limits().max_connections_per_user()));
  if (presence_events_ != nullptr) {
    // A node cut for silence is gone; one whose link merely broke may come back in time.
    presence_events_->detached(hello.node_id(), presence_generation, cut_for_silence,
                               std::chrono::steady_clock::now());
  }
  session->stop();
  log->info("node {} disconnected", hello.node_id());
  return grpc::Status::OK;
}

namespace {

// Entries of one kind as a node listed them, kept when plausible, the others counted as
// unlisted; entries for another node's connections are dropped.
// Saturates rather than wraps on a node's absurd counts.
uint32_t copyEntries(const google::protobuf::RepeatedPtrField<herald::v1::PresenceEntry>& from,
                     uint32_t unlisted, const std::string& node_id, int max_listed,
                     google::protobuf::RepeatedPtrField<herald::v1::PresenceEntry>* to) {
  constexpr size_t kMaxClientBytes = 128;
  constexpr size_t kMaxUserBytes = 1024;
  constexpr uint32_t kMaxCount = 1u << 30;
  uint64_t rest = std::min(unlisted, kMaxCount);
  for (const auto& entry : from) {
    if (clientShard(node_id, entry.client()) < 0) {
      continue;  // another node's connection: not even counted
    }
    if (to->size() >= max_listed || entry.client().size() > kMaxClientBytes ||
        entry.user().size() > kMaxUserBytes) {
      ++rest;
      continue;
    }
    auto* copy = to->Add();
    copy->set_client(entry.client());
    copy->set_user(entry.user());
    copy->set_node_id(node_id);  // the session's, not what the node wrote
  }
  return static_cast<uint32_t>(std::min<uint64_t>(rest, kMaxCount));
}

}  // namespace

// Checked rather than trusted: a channel must be a channel name in a namespace that has
// join_leave now, appear once, and the node's bounds hold whatever it sent.
void NodeLinkService::relayJoinLeave(const std::string& node_id,
                                     const herald::v1::JoinLeaveReport& report) {
  const auto config = store_.snapshot();
  std::unordered_set<std::string_view> seen;
  std::vector<herald::v1::JoinLeave> checked_changes;
  uint64_t total = 0;
  for (const auto& change : report.channels()) {
    if (seen.size() >= static_cast<size_t>(kMaxJoinLeaveChannels)) {
      break;
    }
    if (!seen.insert(change.channel()).second) {
      continue;
    }
    auto name = checkChannelName(change.channel());
    if (!name.isOk()) {
      continue;
    }
    const herald::v1::Namespace* ns = namespaceFor(*config, name->ns);
    if (ns == nullptr || !ns->join_leave()) {
      continue;  // turned off since the node reported, or never on
    }
    herald::v1::JoinLeave checked;
    checked.set_channel(change.channel());
    checked.set_node_id(node_id);
    checked.set_joined_unlisted(copyEntries(change.joined(), change.joined_unlisted(), node_id,
                                            kMaxJoinLeaveListed, checked.mutable_joined()));
    checked.set_left_unlisted(copyEntries(change.left(), change.left_unlisted(), node_id,
                                          kMaxJoinLeaveListed, checked.mutable_left()));
    const uint64_t entries = joinLeaveEntries(checked);
    if (entries == 0) {
      continue;
    }
    total += entries;
    checked_changes.push_back(std::move(checked));
  }
  if (checked_changes.empty()) {
    return;
  }
  const Status relayed = channels_.relayJoinLeave(checked_changes);
  if (metrics_ != nullptr) {
    metrics_->recordJoinLeave(relayed.isOk(), total);
  }
}

// A node's names are checked, not trusted: a namespace label it invents counts as
// "(default)", a channel entry must be a channel name, and no more entries are read than a
// node sends (the label set is the config's, the channels its 32 busiest).
void NodeLinkService::recordDeliveries(const herald::v1::NodeStats& stats, uint64_t total) {
  constexpr int kMaxNamespaceEntries = 1024;
  constexpr int kMaxChannelEntries = 32;
  // More than any node delivers between two heartbeats: sums cannot wrap.
  constexpr uint64_t kMaxCount = uint64_t{1} << 40;
  StatsWindows::Deliveries d;
  d.total = std::min(total, kMaxCount);
  const auto config = store_.snapshot();
  for (const auto& entry : stats.namespace_deliveries()) {
    if (static_cast<int>(d.namespaces.size()) == kMaxNamespaceEntries) {
      break;
    }
    const std::string& name = entry.name();
    const std::string_view label =
        name == ControlMetrics::kUserStreams || name == ControlMetrics::kEveryone
            ? std::string_view(name)
            : ControlMetrics::namespaceLabel(*config, name);
    d.namespaces.emplace_back(label, std::min(entry.deliveries(), kMaxCount));
  }
  for (const auto& entry : stats.channel_deliveries()) {
    if (static_cast<int>(d.channels.size()) == kMaxChannelEntries) {
      break;
    }
    if (checkChannelName(entry.name()).isOk()) {
      d.channels.emplace_back(entry.name(), std::min(entry.deliveries(), kMaxCount));
    }
  }
  metrics_->windows().recordDeliveries(d, unixSeconds());
}

ControlMessagePtr NodeLinkService::recover(const StreamEngine& channels,
                                           const herald::v1::RecoverRequest& request) {
  HistoryQuery query;
  query.since = request.since_offset();
  query.epoch = request.epoch();
  query.limit = request.max_publications() == 0
                    ? kRecoverPageSize
                    : std::min<uint32_t>(request.max_publications(), kRecoverPageSize);
  query.max_bytes = request.max_bytes() == 0
                        ? kRecoverPageBytes
                        : std::min<size_t>(request.max_bytes(), kRecoverPageBytes);
  // With Redis, this replica may only now be subscribing to the stream (its node just took
  // an interest): the read must not start before live publications reach us.
  if (!channels.awaitSubscribed(request.user().empty() ? request.channel() : request.user(),
                                !request.user().empty(), kAwaitSubscribed)) {
    // Reading now could miss what is published before the subscription starts: no answer,
    // so the node's recovery times out (recovered:false, reason "timeout", after 10 s) rather
    // than claim to be complete.
    // At most once a second: a resubscribe of many streams can make many late at once.
    static std::atomic<int64_t> last_warned_ms{0};
    const int64_t now_ms = steadyMillis();
    if (now_ms - last_warned_ms.exchange(now_ms) >= 1000) {
      componentLogger("link")->warn("recovery not answered: the redis subscription to {} is late",
                                    request.user().empty() ? request.channel() : "a user stream");
    }
    return nullptr;
  }
  const int64_t now = steadyMillis();
  HistoryResult result = request.user().empty() ? channels.history(request.channel(), query, now)
                                                : channels.userHistory(request.user(), query, now);
  if (!result.status.isOk()) {
    // No answer: the node's recovery times out (reason `timeout`) rather than claiming a gap.
    componentLogger("link")->warn("history read for recovery failed: {}", result.status.message());
    return nullptr;
  }
  // With Redis, live publications reach this replica through its subscription, which may run
  // behind the read: let them reach the node before the reply that already contains them.
  channels.awaitRouted(request.user().empty() ? request.channel() : request.user(),
                       !request.user().empty(), std::chrono::seconds(2));
  auto message = std::make_shared<herald::v1::ControlMessage>();
  auto* resp = message->mutable_recovered();
  resp->set_request_id(request.request_id());
  resp->set_offset(result.offset);
  resp->set_epoch(result.epoch);
  resp->set_recovered(result.recovered);
  // Not recovered: the client restarts from `offset`; history it cannot place is not sent.
  if (result.recovered) {
    for (const auto& pub : result.publications) {
      *resp->add_publications() = *pub;
    }
  }
  resp->set_complete(!result.recovered || result.publications.empty() ||
                     result.publications.back()->offset() == result.offset);
  return message;
}

void NodeLinkService::announceUserLimits(const UserConnections::Changes& changes) {
  for (const auto& [user, blocked] : changes) {
    auto message = std::make_shared<herald::v1::ControlMessage>();
    message->mutable_user_limit()->set_user(user);
    message->mutable_user_limit()->set_blocked(blocked);
    ControlMessagePtr shared = std::move(message);
    router_.forAll([&](NodeSink& node) { node.send(shared); });
  }
}

size_t NodeLinkService::cancelSilentStreams(std::chrono::milliseconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  size_t cancelled = 0;
  std::lock_guard<std::mutex> lock(pending_mu_);
  for (const auto& [context, since] : awaiting_hello_) {
    if (now - since >= timeout) {
      context->TryCancel();
      ++cancelled;
    }
  }
  return cancelled;
}

}  // namespace herald::control
