#pragma once
// Events with several replicas (--engine redis; docs/hooks.md "Events with several
// replicas"). Each replica's ClusterPresence hands its changes here; an append thread puts
// them, in order, into the cluster's one event stream (ClusterEventLog), where a user or
// channel is online/occupied while any replica holds it; a delivery thread, on the one
// replica holding the lease, reads the stream out to the receivers (EventPublisher's
// dispatchers) and records how far each receiver got, so another replica, or this one after
// a restart, carries on from there.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "controlplane/events/cluster_event_log.h"
#include "controlplane/events/event_publisher.h"

namespace herald::control {

class ClusterEventRelay {
 public:
  struct Options {
    std::string member;  // unique per start of this replica
    size_t queue_limit = 100000;
    size_t batch = 500;  // items per append
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds alive_ttl{3000};  // missed for this long: taken for lost
    std::chrono::milliseconds lease_ttl{3000};
    std::chrono::milliseconds poll{100};  // how often the leader looks for new events
  };
  // Makes a connection to the log: one each for appending, delivering and heartbeats, so
  // that a slow call of one never holds up another (a heartbeat least of all).
  using LogMaker = std::function<std::unique_ptr<ClusterEventLog>()>;
  ClusterEventRelay(const LogMaker& make_log, EventPublisher& publisher, Options options);
  ~ClusterEventRelay();
  ClusterEventRelay(const ClusterEventRelay&) = delete;
  ClusterEventRelay& operator=(const ClusterEventRelay&) = delete;

  // Called (on the append thread) when the cluster may lack connection events of this
  // replica (it was taken for lost and released, or its queue overflowed), after its holds
  // were told again: the listener reports its nodes' connections against what Redis has
  // (ClusterPresence::reannounce). Set before start().
  void setLostListener(std::function<void()> listener) { on_lost_ = std::move(listener); }
  // Heartbeats once (so no replica takes this one for lost while it starts), then starts.
  void start();
  // ClusterPresence's sink: queues (quick, under the tracker's lock).
  void push(const std::vector<PresenceTransition>& changes);
  // This replica reports `node` from now on, in order with what it appends (a takeover
  // NodeHandover could not make at once).
  void claimNode(const std::string& node, const std::string& instance);
  // Appends what is queued (for at most `flush`), gives up the lease, ends both threads.
  void stop(std::chrono::milliseconds flush = std::chrono::milliseconds(2000));

  bool leading() const { return leading_.load(std::memory_order_relaxed); }
  // Events this replica could not append: its queue or the stream was full.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t appended() const { return appended_.load(std::memory_order_relaxed); }
  size_t queued() const;

 private:
  using Clock = std::chrono::steady_clock;
  // Users and channels a replica holds, kept by its holds and releases.
  struct Holdings {
    std::unordered_set<std::string> users;
    std::unordered_set<std::string> channels;
    void apply(const LogItem& item);
  };
  void appendLoop();
  void deliverLoop();
  // One append of `items` (the in-flight batch): OK, or why not. Updates `held_`.
  Status appendInFlight();
  // What the cluster holds for this replica made equal to what it holds now.
  Status resync();
  void heartbeatLoop();
  void takenForLost();
  // Heartbeats went through for at least `alive_ttl` without a break: the other replicas had
  // the time to renew theirs, so one whose key is missing is really gone.
  bool sureOfLiveness() const;
  void sweepLost();
  // Everything from the queue that is not a hold or release (a resync covers those).
  void dropHoldsLocked();
  LogItem itemFor(const PresenceTransition& change) const;
  // Leadership lost or given up: the dispatchers forget what they had read.
  void stepDown();

  const std::unique_ptr<ClusterEventLog> writer_;
  const std::unique_ptr<ClusterEventLog> reader_;
  const std::unique_ptr<ClusterEventLog> beat_;
  std::function<void()> on_lost_;
  EventPublisher& publisher_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<LogItem> queue_;
  // What this replica holds now (kept at push time) and whether the cluster must be told it
  // whole (after an overflow of the queue, or the cluster took this replica for lost).
  Holdings holding_;
  bool resync_ = false;
  bool reannounce_ = false;  // after the resync, the connections too
  bool stopping_ = false;
  Clock::time_point flush_deadline_;

  // Append thread only: what the cluster holds for this replica, the batch being appended.
  Holdings held_;
  std::vector<LogItem> in_flight_;
  uint64_t seq_ = 0;
  // Appended since the cluster last swept this replica (read by the heartbeat thread).
  std::atomic<bool> known_{false};
  std::atomic<bool> lost_{false};  // the heartbeat found this replica taken for lost
  // After that: tell every hold again (some releases may have been dropped meanwhile).
  bool full_resync_ = false;
  std::atomic<int64_t> beating_since_ms_{0};  // steady ms; 0: the last heartbeat failed

  std::atomic<bool> leading_{false};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> appended_{0};
  std::thread append_thread_;
  std::thread deliver_thread_;
  std::thread heartbeat_thread_;
};

}  // namespace herald::control
