#pragma once
// The cluster's one stream of events (docs/hooks.md "Events with several replicas"): each
// herald-control replica (a "member", one per start) appends what its nodes reported, and
// one member at a time, the leader, reads the stream out to the receivers. RedisEventLog
// implements it; ClusterEventRelay drives it.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/events/presence_transition.h"
#include "herald/v1/hooks.pb.h"

namespace herald::control {

// One change to append. Holds and releases are this member's first and last hold of a user
// or channel (across its nodes); they become user.online / user.offline, channel.occupied /
// channel.vacated only when no other member holds it. kEvent (client.*, subscription.*) goes
// in as it is when the member reports the event's node, and keeps the node's roster.
// kClaimNode: the member reports node `change.node` (of start `instance`) from now on.
struct LogItem {
  enum class Op { kHoldUser, kReleaseUser, kHoldChannel, kReleaseChannel, kEvent, kClaimNode };
  Op op = Op::kEvent;
  bool emit = true;  // false: kept track of, but the receivers do not take its type
  PresenceTransition change;
  std::string instance;  // kClaimNode
};

// An event read from the stream: its id is the stream's; `seq` counts every event appended
// (one more each), so a reader sees how many the stream's bound took from under it.
struct LoggedEvent {
  herald::v1::Event event;
  uint64_t seq = 0;
};

class ClusterEventLog {
 public:
  virtual ~ClusterEventLog() = default;

  struct Appended {
    size_t added = 0;   // events that went into the stream (its oldest go past its limit)
    bool lost = false;  // the cluster took this member for dead: nothing was applied
  };
  // Applies `items` in order, in one step; the stream keeps about `stream_limit` events. `seq`
  // grows with each call of a member; a call with a seq at or below the last applied one is a no-op
  // (a retry whose reply was lost). `known`: the member appended before, so if the cluster has
  // since released everything it held (it missed its heartbeats), nothing is applied and `lost`
  // says so.
  virtual Result<Appended> append(const std::string& member, uint64_t seq, bool known,
                                  const std::vector<LogItem>& items, int64_t time_ms,
                                  size_t stream_limit) = 0;
  // The member is alive for `ttl` more. Returns whether the cluster still holds its state.
  virtual Result<bool> heartbeat(const std::string& member, std::chrono::milliseconds ttl) = 0;
  // Members that held something and are not alive.
  virtual Result<std::vector<std::string>> lostMembers() = 0;
  struct Sweep {
    bool emit_users = true;          // user.offline is sent
    bool emit_channels = true;       // channel.vacated is sent
    bool emit_clients = true;        // client.disconnected
    bool emit_subscriptions = true;  // subscription.removed
    std::string reason;
    int64_t time_ms = 0;
    size_t chunk = 1000;
    size_t stream_limit = 100000;
  };
  // Ends up to `chunk` connections of the nodes a lost member reported (code 1006), then,
  // once none is left, releases up to `chunk` users and as many channels, with the events of
  // those nobody else holds. Returns how many remain, or -1 when the member is alive again.
  virtual Result<int64_t> sweep(const std::string& member, const Sweep& how) = 0;

  // Takes or keeps the lease of delivering the stream. False: another member holds it.
  virtual Result<bool> lead(const std::string& member, std::chrono::milliseconds ttl) = 0;
  virtual void resign(const std::string& member) = 0;
  // The id of the last event `receiver` took ("0-0": none yet).
  virtual Result<std::string> position(const std::string& receiver) = 0;
  // Moves `receiver`'s position forward to `id` (never back), if `member` holds the lease.
  virtual Status commit(const std::string& member, const std::string& receiver,
                        const std::string& id) = 0;
  // Up to `count` events after `after`, in order.
  virtual Result<std::vector<LoggedEvent>> read(const std::string& after, size_t count) = 0;
  // Forgets the events up to `upto` (every receiver took them).
  virtual Status trim(const std::string& upto) = 0;
};

}  // namespace herald::control
