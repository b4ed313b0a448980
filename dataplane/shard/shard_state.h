#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/rate_limiter.h"
#include "dataplane/auth/jwks_refresher.h"
#include "dataplane/fanout/conflation_schedule.h"
#include "dataplane/fanout/delivery_tally.h"
#include "dataplane/fanout/outbox.h"
#include "dataplane/fanout/subscription_index.h"
#include "dataplane/hooks/hook_caller.h"
#include "dataplane/link/client_event_log.h"
#include "dataplane/link/control_uplink.h"
#include "dataplane/link/interest_tracker.h"
#include "dataplane/link/join_leave_batch.h"
#include "dataplane/link/request_id.h"
#include "dataplane/node_settings.h"
#include "dataplane/session/blocked_users.h"
#include "dataplane/session/channel_subscribers.h"
#include "dataplane/session/pending_publishes.h"
#include "dataplane/shard/shard_counters.h"

namespace herald::node {

class ClientSession;

// Node-wide things every shard uses; owned by the Node, thread-safe, set before start.
struct NodeServices {
  const std::string* node_id = nullptr;
  InterestTracker* interest = nullptr;
  std::atomic<uint64_t>* node_connections = nullptr;  // across shards, for the node limit
  IpLimiter* ip_limiter = nullptr;
  const BlockedUsers* blocked_users = nullptr;
  ChannelSubscribers* subscribers = nullptr;  // max_subscribers per channel, node-wide
  ControlUplink* uplink = nullptr;            // recoveries and client publications
  DeliveryTallies* deliveries = nullptr;      // per namespace and channel, for the heartbeat
  HookCaller* hooks = nullptr;                // the backend's hooks (client rpc)
  ClientEventLog* client_log = nullptr;       // connections' events for herald-control
  JoinLeaveBatch* join_leave = nullptr;       // joins and leaves of join_leave channels
  JwksRefresher* jwks = nullptr;              // keys from AuthSettings.jwks_url
};

/**
 * Everything one shard owns: its sessions, who is subscribed to what, its write path, and
 * the requests its sessions have out on the NodeLink. Touched only on the shard's thread (the
 * Shard's loop, shard.cc, creates it; sessions and the fan-out work on it). Tests build one
 * without a loop or sockets.
 */
struct ShardState {
  ShardState(uint32_t shard_index, NodeServices services, NodeSettingsPtr initial,
             std::function<void()> arm_flush)
      : index(shard_index),
        node(services),
        settings(std::move(initial)),
        outbox(settings, counters, std::move(arm_flush)) {}

  ShardState(const ShardState&) = delete;
  ShardState& operator=(const ShardState&) = delete;

  uint64_t nextRecoveryId() { return shardRequestId(index, next_recovery++); }
  uint64_t nextPublishId() { return shardRequestId(index, next_publish++); }

  uint32_t index = 0;
  uint32_t ping_interval_ms = 30000;
  NodeServices node;
  NodeSettingsPtr settings;
  ShardCounters counters;
  Outbox outbox;
  DeliveryTally deliveries;  // since the last hand-over to node.deliveries (once a second)
  std::vector<ClientSession*> sessions;  // open connections, swap-and-pop by index
  SubscriptionIndex<ClientSession> channels;
  ConflationSchedule conflation;  // conflated groups holding a publication back
  std::unordered_map<std::string, std::vector<ClientSession*>> users;
  std::unordered_map<uint64_t, ClientSession*> recoveries;  // request id -> session
  PendingPublishes<ClientSession> publishes;                // request id -> session, frame id
  PendingPublishes<ClientSession> rpcs;  // client rpc calls out to the backend, by request id
  // The other hooks' calls out (connect, subscribe, publish, refresh), by request id.
  PendingPublishes<ClientSession> hook_calls;
  // Runs a function on this shard's thread (hook answers come on hook threads). Set by the
  // shard's loop; tests run it at once.
  std::function<void(std::function<void()>)> post;
  uint64_t next_recovery = 1;
  uint64_t next_publish = 1;
  uint64_t next_seq = 1;
  bool shutting_down = false;
};

}  // namespace herald::node
