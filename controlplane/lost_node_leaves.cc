#include "controlplane/lost_node_leaves.h"

#include "common/channel_name.h"
#include "common/logging.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {

void LostNodeLeaves::departed(const std::string& node_id, const std::string& instance,
                              std::vector<std::string> channels, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  away_[node_id] = Away{instance, std::move(channels), now};
}

void LostNodeLeaves::returned(const std::string& node_id, const std::string& instance) {
  std::vector<std::string> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = away_.find(node_id);
    if (it == away_.end()) {
      return;
    }
    if (it->second.instance != instance) {
      lost = std::move(it->second.channels);  // a new process: the old one's connections went
    }
    away_.erase(it);
  }
  if (!lost.empty()) {
    relay(node_id, lost);
  }
}

size_t LostNodeLeaves::sweep(Clock::time_point now) {
  std::vector<std::pair<std::string, std::vector<std::string>>> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = away_.begin(); it != away_.end();) {
      if (now - it->second.since < timeout_) {
        ++it;
        continue;
      }
      lost.emplace_back(it->first, std::move(it->second.channels));
      it = away_.erase(it);
    }
  }
  size_t relayed = 0;
  for (const auto& [node_id, channels] : lost) {
    // Moved to another replica (a failover of its link): still there, with its connections.
    if (live_elsewhere_ && live_elsewhere_(node_id)) {
      continue;
    }
    relay(node_id, channels);
    ++relayed;
  }
  return relayed;
}

size_t LostNodeLeaves::away() const {
  std::lock_guard<std::mutex> lock(mu_);
  return away_.size();
}

void LostNodeLeaves::relay(const std::string& node_id, const std::vector<std::string>& channels) {
  const auto config = store_.snapshot();
  std::vector<herald::v1::JoinLeave> changes;
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
  }
  if (changes.empty()) {
    return;
  }
  const Status relayed = engine_.relayJoinLeave(changes);
  if (relayed.isOk()) {
    componentLogger("link")->info("node {} is gone: its connections left {} join_leave channel(s)",
                                  node_id, changes.size());
  } else {
    componentLogger("link")->warn("node {} is gone, but its connections' leaves were not sent: {}",
                                  node_id, relayed.message());
  }
}

}  // namespace herald::control
