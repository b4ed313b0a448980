// ControlService: the reading RPCs: nodes, channels, history, presence, stats, info.
#include "controlplane/control_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/channel_name.h"
#include "common/clock.h"
#include "common/version.h"
#include "controlplane/control_service_util.h"

namespace herald::control {
namespace {

constexpr uint32_t kDefaultHistoryLimit = 100;
constexpr uint32_t kMaxHistoryLimit = 10000;
// Keeps a History response well under gRPC's default 4 MiB client limit.
constexpr size_t kMaxHistoryResponseBytes = 2 << 20;
constexpr size_t kTopSubscribedChannels = 10;

// The channels with most subscribers, from each node's own list of its biggest: summed by
// name (a lower bound for a channel some node did not list), most first. The last list of an
// unhealthy node, or of a node on a replica that stopped announcing, is stale: left out.
void addTopSubscribed(const herald::v1::ListNodesResponse& cluster,
                      herald::v1::ClusterStatsResponse* resp) {
  std::set<std::string> silent_replicas;
  for (const auto& replica : cluster.replicas()) {
    if (!replica.healthy()) {
      silent_replicas.insert(replica.replica_id());
    }
  }
  std::map<std::string, herald::v1::ChannelSubscribers> by_channel;
  for (const auto& node : cluster.nodes()) {
    if (node.health() == herald::v1::NODE_HEALTH_UNHEALTHY ||
        silent_replicas.count(node.replica()) > 0) {
      continue;
    }
    for (const auto& c : node.top_channels()) {
      auto& entry = by_channel[c.channel()];
      entry.set_channel(c.channel());
      entry.set_subscribers(entry.subscribers() + c.subscribers());
      entry.set_nodes(entry.nodes() + 1);
    }
  }
  std::vector<const herald::v1::ChannelSubscribers*> order;
  for (const auto& [name, entry] : by_channel) {
    order.push_back(&entry);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->subscribers() > b->subscribers();
  });
  for (size_t i = 0; i < order.size() && i < kTopSubscribedChannels; ++i) {
    *resp->add_top_subscribed_channels() = *order[i];
  }
}

}  // namespace

grpc::Status ControlService::ListNodes(Ctx* ctx, const herald::v1::ListNodesRequest*,
                                       herald::v1::ListNodesResponse* resp) {
  return guarded(ctx, Need::kReader, "ListNodes", [&]() -> Status {
    std::string unavailable;
    *resp = clusterNodes(false, &unavailable);
    for (auto& replica : *resp->mutable_replicas()) {
      replica.clear_windows();  // for ClusterStats, not a node listing
      replica.clear_active_user_sketches();
    }
    if (!unavailable.empty()) {
      // Nodes keep serving while Redis is away: show what this replica knows, and say why.
      ctx->AddTrailingMetadata("herald-partial", unavailable);
    }
    return Status::ok();
  });
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
  if (metrics_ != nullptr && me.replicas != nullptr) {
    metrics_->windows().announce(unixSeconds(), self);
  }
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

std::vector<herald::v1::PresenceReply> ControlService::localPresence(
    const herald::v1::PresenceQuery& query, uint32_t* nodes_asked,
    std::chrono::milliseconds timeout) {
  const std::string channel = query.channel();
  auto gathered = presence_.ask(
      query,
      [&](const DeliveryRouter::Visit& visit) {
        return channel.empty() ? router_.forAll([&](NodeSink& node) { visit(node); })
                               : router_.forChannel(channel, visit);
      },
      timeout);
  *nodes_asked = gathered.asked;
  return std::move(gathered.replies);
}

PresenceBroker::Gathered ControlService::clusterPresence(const herald::v1::PresenceQuery& query,
                                                         std::string* partial) {
  const Identity me = identity();
  PresenceBroker::Gathered out;
  if (me.presence == nullptr || me.replicas == nullptr) {
    out.replies = localPresence(query, &out.asked, kPresenceTimeout);
    return out;
  }
  // Every other replica announced within the last 2 s: one that died meanwhile does not
  // answer and is counted so; its nodes are already on other replicas or gone.
  std::vector<std::string> peers;
  auto live = me.replicas->healthyIds(unixMillis());
  if (!live.isOk()) {
    *partial = "other replicas not asked: " + live.status().message();
  } else {
    peers = std::move(live.value());  // ReplicaPresence::ask skips this replica's own id
  }
  auto remote = me.presence->ask(query, peers, kPresenceTimeout, [&] {
    out.replies = localPresence(query, &out.asked, kPeerAnswerWithin);
  });
  out.asked += remote.nodes_asked;
  for (auto& reply : remote.replies) {
    out.replies.push_back(std::move(reply));
  }
  if (remote.replicas_unanswered > 0) {
    *partial = std::to_string(remote.replicas_unanswered) + " of " +
               std::to_string(remote.replicas_asked) + " other replica(s) did not answer";
  }
  return out;
}

grpc::Status ControlService::ListChannels(Ctx* ctx, const herald::v1::ListChannelsRequest* req,
                                          herald::v1::ListChannelsResponse* resp) {
  return guarded(ctx, Need::kReader, "ListChannels", [&]() -> Status {
    if (!paging::pageTokenValid(req->page_token())) {
      return Status(ErrorCode::kBadRequest, "page_token was not returned by this RPC");
    }
    const uint32_t limit = paging::pageSize(req->page_size());
    auto listed = channels_.list();
    if (!listed.isOk()) {
      return listed.status();
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
      if (paging::beforeToken(name, req->page_token())) {
        continue;
      }
      if (static_cast<uint32_t>(resp->channels_size()) == limit) {
        resp->set_next_page_token(
            paging::tokenAfter(resp->channels(resp->channels_size() - 1).channel()));
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
    // of this page that have interest; with several replicas, every replica's nodes.
    const bool cluster = identity().presence != nullptr;
    herald::v1::PresenceQuery query;
    for (const auto& info : resp->channels()) {
      if (info.nodes() > 0 || cluster) {
        query.add_count_channels(info.channel());
      }
    }
    if (query.count_channels_size() > 0) {
      std::string partial;
      auto gathered = clusterPresence(query, &partial);
      if (!partial.empty()) {
        ctx->AddTrailingMetadata("herald-partial", partial);
      }
      std::map<std::string, uint64_t> counts;
      std::map<std::string, uint32_t> nodes;  // nodes with subscribers, every replica's
      for (const auto& reply : gathered.replies) {
        for (const auto& count : reply.counts()) {
          counts[count.channel()] += count.subscribers();
          nodes[count.channel()] += count.subscribers() > 0 ? 1 : 0;
        }
      }
      for (auto& info : *resp->mutable_channels()) {
        auto it = counts.find(info.channel());
        info.set_subscribers(it == counts.end() ? 0 : it->second);
        if (cluster) {
          auto n = nodes.find(info.channel());
          info.set_nodes(std::max(info.nodes(), n == nodes.end() ? 0u : n->second));
        }
      }
    }
    return Status::ok();
  });
}

grpc::Status ControlService::History(Ctx* ctx, const herald::v1::HistoryRequest* req,
                                     herald::v1::HistoryResponse* resp) {
  return guarded(ctx, Need::kReader, "History", [&]() -> Status {
    if (req->channel().empty() == req->user().empty()) {
      return Status(ErrorCode::kBadRequest, "give either channel or user");
    }
    if (!req->channel().empty()) {
      auto name = checkChannelName(req->channel());
      if (!name.isOk()) {
        return name.status();
      }
    } else if (req->user().size() > 256) {
      return Status(ErrorCode::kBadRequest, "user must be 1..256 bytes");
    }
    if (req->limit() > kMaxHistoryLimit) {
      return Status(ErrorCode::kBadRequest, "limit is at most 10000");
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
      return result.status;
    }
    for (const auto& pub : result.publications) {
      *resp->add_publications() = *pub;
    }
    resp->set_offset(result.offset);
    resp->set_epoch(result.epoch);
    resp->set_recovered(result.recovered);
    return Status::ok();
  });
}

grpc::Status ControlService::Presence(Ctx* ctx, const herald::v1::PresenceRequest* req,
                                      herald::v1::PresenceResponse* resp) {
  return guarded(ctx, Need::kReader, "Presence", [&]() -> Status {
    auto name = checkChannelName(req->channel());
    if (!name.isOk()) {
      return name.status();
    }
    herald::v1::PresenceQuery query;
    query.set_channel(req->channel());
    query.set_max_entries(kPresenceEntriesPerNode);
    std::string partial;
    auto gathered = clusterPresence(query, &partial);
    if (!partial.empty()) {
      ctx->AddTrailingMetadata("herald-partial", partial);
    }
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
    return Status::ok();
  });
}

grpc::Status ControlService::ClusterStats(Ctx* ctx, const herald::v1::ClusterStatsRequest*,
                                          herald::v1::ClusterStatsResponse* resp) {
  return guarded(ctx, Need::kReader, "ClusterStats", [&]() -> Status {
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
    addTopSubscribed(cluster, resp);
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
    if (cluster.replicas_size() > 0) {
      // Every healthy replica's windows, this one's included (it announced them too).
      std::vector<const herald::v1::ReplicaInfo*> healthy;
      for (const auto& replica : cluster.replicas()) {
        if (replica.healthy()) {
          healthy.push_back(&replica);
        }
      }
      StatsWindows::merge(healthy, resp);
    } else if (metrics_ != nullptr) {
      metrics_->windows().fill(unixSeconds(), resp);
    }
    return Status::ok();
  });
}

grpc::Status ControlService::Info(Ctx* ctx, const herald::v1::InfoRequest*,
                                  herald::v1::InfoResponse* resp) {
  return guarded(ctx, Need::kReader, "Info", [&]() -> Status {
    resp->set_version(kVersion);
    resp->set_build(std::string("herald-control ") + kVersion);
    const Identity me = identity();
    resp->set_engine(me.engine);
    resp->set_config_version(store_.version());
    resp->set_started_unix_ms(started_unix_ms_);
    resp->set_grpc_listen(me.listen_address);
    return Status::ok();
  });
}

}  // namespace herald::control
