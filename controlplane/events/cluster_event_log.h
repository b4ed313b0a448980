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
// channel.vacated only when no other member holds it. kEvent goes in as it is.
struct LogItem {
  enum class Op { kHoldUser, kReleaseUser, kHoldChannel, kReleaseChannel, kEvent };
  Op op = Op::kEvent;
  bool emit = true;  // false: kept track of, but the receivers do not take its type
  PresenceTransition change;
};

class ClusterEventLog {
 public:
  virtual ~ClusterEventLog() = default;

  struct Appended {
    size_t added = 0;    // events that went into the stream
    size_t dropped = 0;  // events that did not: the stream held its limit
    bool lost = false;   // the cluster took this member for dead: nothing was applied
  };
  // Applies `items` in order, in one step. `seq` grows with each call of a member; a call
  // with a seq at or below the last applied one is a no-op (a retry whose reply was lost).
  // `known`: the member appended before, so if the cluster has since released everything it
  // held (it missed its heartbeats), nothing is applied and `lost` says so.
  virtual Result<Appended> append(const std::string& member, uint64_t seq, bool known,
                                  const std::vector<LogItem>& items, int64_t time_ms,
                                  size_t stream_limit) = 0;
  // The member is alive for `ttl` more. Returns whether the cluster still holds its state.
  virtual Result<bool> heartbeat(const std::string& member, std::chrono::milliseconds ttl) = 0;
  // Members that held something and are not alive.
  virtual Result<std::vector<std::string>> lostMembers() = 0;
  struct Sweep {
    bool emit_users = true;     // user.offline is sent
    bool emit_channels = true;  // channel.vacated is sent
    std::string reason;
    int64_t time_ms = 0;
    size_t chunk = 1000;
    size_t stream_limit = 100000;
  };
  // Releases up to `chunk` users and as many channels of a lost member, with the events of
  // those nobody else holds. Returns how many remain, or -1 when the member is alive again.
  virtual Result<int64_t> sweep(const std::string& member, const Sweep& how) = 0;

  // Takes or keeps the lease of delivering the stream. False: another member holds it.
  virtual Result<bool> lead(const std::string& member, std::chrono::milliseconds ttl) = 0;
  virtual void resign(const std::string& member) = 0;
  // The id of the last event `receiver` took ("0-0": none yet).
  virtual Result<std::string> position(const std::string& receiver) = 0;
  // Moves `receiver`'s position forward to `id` (never back).
  virtual Status commit(const std::string& receiver, const std::string& id) = 0;
  // Up to `count` events after `after`, in order, each with its stream id as its id.
  virtual Result<std::vector<herald::v1::Event>> read(const std::string& after, size_t count) = 0;
  // Forgets the events up to `upto` (every receiver took them).
  virtual Status trim(const std::string& upto) = 0;
};

}  // namespace herald::control
