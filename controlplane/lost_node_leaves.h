#pragma once
// `leave` frames for the connections of a node that is gone (docs/protocol.md "join and
// leave"). A node that dies cannot report its connections' leaves, so herald-control does:
// once the node has been away for node_timeout_ms (or came back as a new process), it relays a
// JoinLeave with node_lost for each channel of a join_leave namespace the node held
// subscribers of, and every subscriber drops that node's members.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "controlplane/config_store.h"
#include "controlplane/stream_engine.h"

namespace herald::control {

class LostNodeLeaves {
 public:
  using Clock = std::chrono::steady_clock;
  // The nodes other replicas hold now (--engine redis), or nullopt when that cannot be told
  // (Redis away: nothing is decided, the next sweep asks again); null: no other replica.
  using NodesElsewhere = std::function<std::optional<std::unordered_set<std::string>>()>;
  // Channels relayed per engine call (one Redis pipeline).
  static constexpr size_t kRelayChunk = 1000;

  // `timeout`: how long a node may be away (with other replicas, add how late their
  // directory may be).
  LostNodeLeaves(StreamEngine& engine, const ConfigStore& store, std::chrono::milliseconds timeout,
                 NodesElsewhere elsewhere = nullptr)
      : engine_(engine), store_(store), timeout_(timeout), elsewhere_(std::move(elsewhere)) {}

  // A session of the node said Hello: process `instance`, `generation` from NodeRegistry
  // (an older generation than one already seen changes nothing). If it replaced a live session
  // of another process (`replaced_instance`, holding `replaced_channels`), or the node was away
  // as another process, the old process's connections leave now, before anything of the new
  // one is relayed. Waits while a sweep relays this node's leaves.
  void attached(const std::string& node_id, const std::string& instance, uint64_t generation,
                const std::optional<std::string>& replaced_instance = std::nullopt,
                const std::vector<std::string>& replaced_channels = {});
  // The session of that generation ended holding subscribers of `channels`; ignored when a
  // newer session of the node said Hello meanwhile.
  void departed(const std::string& node_id, uint64_t generation, std::vector<std::string> channels,
                Clock::time_point now);
  // Relays the leaves of nodes away for the timeout (the sweep loop); returns how many nodes.
  size_t sweep(Clock::time_point now);

  // Nodes known (live or away), for tests.
  size_t known() const;

 private:
  struct NodeState {
    uint64_t generation = 0;
    std::string instance;
    bool away = false;
    std::vector<std::string> channels;  // while away
    Clock::time_point since;
  };
  // Relays in chunks (stopping at the first that fails), only channels of join_leave
  // namespaces now.
  void relay(const std::string& node_id, const std::vector<std::string>& channels);
  bool anyJoinLeave() const;

  StreamEngine& engine_;
  const ConfigStore& store_;
  const std::chrono::milliseconds timeout_;
  const NodesElsewhere elsewhere_;
  mutable std::mutex mu_;
  std::condition_variable relayed_cv_;
  std::unordered_map<std::string, NodeState> nodes_;
  // Nodes whose leaves a sweep is relaying: a Hello of one waits, so that the `all` of its old
  // process goes before the new one's joins.
  std::unordered_set<std::string> relaying_;
};

}  // namespace herald::control
