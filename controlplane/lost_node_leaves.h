#pragma once
// `leave` frames for the connections of a node that is gone (docs/protocol.md "join and
// leave"). A node that dies cannot report its connections' leaves, so herald-control does:
// once the node has been away for node_timeout_ms (or came back as a new process), it relays a
// JoinLeave with node_lost for each channel of a join_leave namespace the node held
// subscribers of, and every subscriber drops that node's members.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/config_store.h"
#include "controlplane/stream_engine.h"

namespace herald::control {

class LostNodeLeaves {
 public:
  using Clock = std::chrono::steady_clock;
  // Whether another replica holds the node now (--engine redis); null: there is none.
  using LiveElsewhere = std::function<bool(const std::string& node_id)>;

  LostNodeLeaves(StreamEngine& engine, const ConfigStore& store, std::chrono::milliseconds timeout,
                 LiveElsewhere live_elsewhere = nullptr)
      : engine_(engine),
        store_(store),
        timeout_(timeout),
        live_elsewhere_(std::move(live_elsewhere)) {}

  // The node's (live) session ended while it held subscribers of `channels`.
  void departed(const std::string& node_id, const std::string& instance,
                std::vector<std::string> channels, Clock::time_point now);
  // The node said Hello: the same process kept its connections; another one lost them.
  void returned(const std::string& node_id, const std::string& instance);
  // Relays the leaves of nodes away for the timeout (the sweep loop); returns how many nodes.
  size_t sweep(Clock::time_point now);

  // Nodes waiting to be declared lost (for tests).
  size_t away() const;

 private:
  struct Away {
    std::string instance;
    std::vector<std::string> channels;
    Clock::time_point since;
  };
  void relay(const std::string& node_id, const std::vector<std::string>& channels);

  StreamEngine& engine_;
  const ConfigStore& store_;
  const std::chrono::milliseconds timeout_;
  const LiveElsewhere live_elsewhere_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Away> away_;
};

}  // namespace herald::control
