#include "controlplane/lost_node_leaves.h"

#include <algorithm>

#include "common/channel_name.h"
#include "common/logging.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {

void LostNodeLeaves::attached(const std::string& node_id, const std::string& instance,
                              uint64_t generation,
                              const std::optional<std::string>& replaced_instance,
                              const std::vector<std::string>& replaced_channels) {
  std::vector<std::string> lost;
  {
    std::unique_lock<std::mutex> lock(mu_);
    relayed_cv_.wait(lock, [&] { return relaying_.count(node_id) == 0; });
    NodeState& state = nodes_[node_id];
    if (generation < state.generation) {
      return;  // a newer session of the node said Hello first: it holds the node
    }
    if (state.away && state.instance != instance) {
      lost = std::move(state.channels);  // a new process: the old one's connections went
    }
    if (replaced_instance && *replaced_instance != instance) {
      lost.insert(lost.end(), replaced_channels.begin(), replaced_channels.end());
    }
    state = NodeState{generation, instance, false, {}, {}};
  }
  if (!lost.empty()) {
    std::sort(lost.begin(), lost.end());
    lost.erase(std::unique(lost.begin(), lost.end()), lost.end());
    relay(node_id, lost);
  }
}

void LostNodeLeaves::departed(const std::string& node_id, uint64_t generation,
                              std::vector<std::string> channels, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.generation != generation) {
    return;  // a newer session took over: it holds the node's connections
  }
  if (channels.empty()) {
    nodes_.erase(it);  // nothing to leave
    return;
  }
  it->second.away = true;
  it->second.channels = std::move(channels);
  it->second.since = now;
}

size_t LostNodeLeaves::sweep(Clock::time_point now) {
  std::vector<std::string> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [node_id, state] : nodes_) {
      if (state.away && now - state.since >= timeout_) {
        due.push_back(node_id);
      }
    }
  }
  if (due.empty()) {
    return 0;
  }
  const bool wanted = anyJoinLeave();
  std::optional<std::unordered_set<std::string>> elsewhere;
  if (wanted && elsewhere_) {
    elsewhere = elsewhere_();
    if (!elsewhere) {
      return 0;  // cannot tell whether they moved: ask again at the next sweep
    }
  }
  size_t relayed = 0;
  for (const auto& node_id : due) {
    std::vector<std::string> channels;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = nodes_.find(node_id);
      if (it == nodes_.end() || !it->second.away) {
        continue;  // back meanwhile
      }
      channels = std::move(it->second.channels);
      nodes_.erase(it);
      // Moved to another replica (a failover of its link): still there, with its connections.
      if (!wanted || (elsewhere && elsewhere->count(node_id) > 0)) {
        continue;
      }
      relaying_.insert(node_id);
    }
    relay(node_id, channels);
    ++relayed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      relaying_.erase(node_id);
    }
    relayed_cv_.notify_all();
  }
  return relayed;
}

size_t LostNodeLeaves::known() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_.size();
}

bool LostNodeLeaves::anyJoinLeave() const {
  const auto config = store_.snapshot();
  return std::any_of(config->namespaces().begin(), config->namespaces().end(),
                     [](const herald::v1::Namespace& ns) { return ns.join_leave(); });
}

void LostNodeLeaves::relay(const std::string& node_id, const std::vector<std::string>& channels) {
  const auto config = store_.snapshot();
  std::vector<herald::v1::JoinLeave> changes;
  size_t sent = 0;
  Status failed = Status::ok();
  auto flush = [&] {
    if (changes.empty() || !failed.isOk()) {
      return;
    }
    failed = engine_.relayJoinLeave(changes);
    if (failed.isOk()) {
      sent += changes.size();
    }
    changes.clear();
  };
  for (const auto& channel : channels) {
    auto name = parseChannelName(channel);
    if (!name.isOk()) {
      continue;
    }
    const herald::v1::Namespace* ns = namespaceFor(*config, name->ns);
    if (ns == nullptr || !ns->join_leave()) {
      continue;
    }
    herald::v1::JoinLeave& change = changes.emplace_back();
    change.set_channel(channel);
    change.set_node_id(node_id);
    change.set_node_lost(true);
    if (changes.size() == kRelayChunk) {
      flush();
      if (!failed.isOk()) {
        break;  // Redis away: the rest would wait on it too
      }
    }
  }
  flush();
  auto log = componentLogger("link");
  if (sent > 0) {
    log->info("node {} is gone: its connections left {} join_leave channel(s)", node_id, sent);
  }
  if (!failed.isOk()) {
    log->warn("node {} is gone, but some of its connections' leaves were not sent: {}", node_id,
              failed.message());
  }
}

}  // namespace herald::control
