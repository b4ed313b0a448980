#pragma once
// Which users have a connection and which channels have a subscriber across this
// herald-control's nodes, from what the nodes report, and the moments that changes
// (docs/hooks.md "Events"); with each node's connections (ClientRoster) when nodes report
// them. Keyed by node id, not by link: a node whose link breaks keeps
// its state for a grace period, so a node that comes back (a link flap) changes only what
// really changed, and a node that does not (kill -9, a hang) loses everything it held, once.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "controlplane/events/client_roster.h"
#include "controlplane/events/node_handover.h"
#include "controlplane/events/presence_transition.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

class ClusterPresence {
 public:
  using Clock = std::chrono::steady_clock;
  // Hears the transitions of each report, in order, under the tracker's lock (so the order
  // of two nodes' changes is the order they are heard in): keep it quick.
  using Sink = std::function<void(std::vector<PresenceTransition>)>;

  // What one node may make the tracker hold at most; entries beyond are ignored.
  static constexpr size_t kMaxEntriesPerNode = 1000000;

  ClusterPresence(std::chrono::milliseconds grace, Sink sink)
      : grace_(grace), sink_(std::move(sink)) {}

  // A node's full state (its Hello). Returns the generation to pass to detached(): a later
  // Hello of the same node (a new link) makes an older link's detach a no-op. `instance`
  // (Hello.instance): a node with another instance restarted, so every connection it had
  // ended. `reports_clients` false: what it reported of its connections is void (forgotten
  // without events); true: their full list follows in its deltas.
  uint64_t attached(const std::string& node, const std::vector<std::string>& channels,
                    const google::protobuf::RepeatedPtrField<herald::v1::UserCount>& users,
                    const std::string& instance = std::string(), bool reports_clients = false);
  // A change a node reported on the link of `generation` (InterestDelta: channels, users'
  // connection counts, connections' events); ignored when a newer link of the node took over.
  // Within a report: users online and channels occupied come first, then the connections'
  // events in their order, then channels vacated and users offline.
  void changed(const std::string& node, uint64_t generation,
               const herald::v1::InterestDelta& delta);
  // The link of `generation` ended. `timed_out`: the node was silent past the timeout, so
  // it is gone now; otherwise it has the grace period to come back.
  void detached(const std::string& node, uint64_t generation, bool timed_out,
                Clock::time_point now);
  // --engine redis: where a node's connections stood when another replica reported it.
  // Set before nodes attach.
  void setHandover(NodeHandover* handover) { handover_ = handover; }
  // Redis released what this replica held while it was cut off: each node it reports is
  // taken over again, and its connections reported against what Redis still has.
  void reannounce();
  // Nodes detached longer than the grace period leave, with everything they held.
  void sweep(Clock::time_point now);

  // For tests and /metrics.
  size_t users() const;
  size_t channels() const;
  size_t clients() const;

 private:
  struct NodeState {
    uint64_t generation = 0;
    uint64_t latest_hello = 0;  // the generation the newest Hello reserved (attached())
    std::unordered_set<std::string> channels;
    std::unordered_map<std::string, uint32_t> users;  // connections > 0
    bool detached = false;
    Clock::time_point detached_at;
    std::string instance;
    bool reports_clients = false;
    ClientRoster clients{kMaxEntriesPerNode};
  };
  void addChannel(NodeState& state, const std::string& node, const std::string& channel,
                  std::vector<PresenceTransition>* out);
  void removeChannel(NodeState& state, const std::string& node, const std::string& channel,
                     const std::string& reason, std::vector<PresenceTransition>* out);
  void setUser(NodeState& state, const std::string& node, const std::string& user,
               uint32_t connections, const std::string& reason,
               std::vector<PresenceTransition>* out);
  void dropNodeLocked(const std::string& node, const std::string& reason,
                      std::vector<PresenceTransition>* out);

  const std::chrono::milliseconds grace_;
  const Sink sink_;
  NodeHandover* handover_ = nullptr;
  mutable std::mutex mu_;
  uint64_t next_generation_ = 1;
  std::unordered_map<std::string, NodeState> nodes_;
  std::unordered_map<std::string, uint32_t> channel_nodes_;  // nodes holding a subscriber
  std::unordered_map<std::string, uint32_t> user_nodes_;     // nodes holding a connection
};

}  // namespace herald::control
