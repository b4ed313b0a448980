#include "controlplane/router.h"

#include <algorithm>
#include <mutex>

#include "common/stream_keys.h"

namespace herald::control {

bool Router::addTo(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                   const NodeSinkPtr& node) {
  auto& list = (*index)[key];
  for (const auto& existing : list) {
    if (existing.get() == node.get()) {
      return false;
    }
  }
  list.push_back(node);
  return list.size() == 1;
}

bool Router::removeFrom(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                        const NodeSink* node) {
  auto it = index->find(key);
  if (it == index->end()) {
    return false;
  }
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [node](const NodeSinkPtr& n) { return n.get() == node; }),
             list.end());
  if (list.empty()) {
    index->erase(it);
    return true;
  }
  return false;
}

void Router::added(bool first, const std::string& key, bool user) const {
  if (first && listener_ != nullptr) {
    listener_->interestChanged(user ? userStreamKey(key) : key, true);
  }
}

void Router::removed(bool last, const std::string& key, bool user) const {
  if (last && listener_ != nullptr) {
    listener_->interestChanged(user ? userStreamKey(key) : key, false);
  }
}

void Router::setInterestListener(InterestListener* listener) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  listener_ = listener;
}

void Router::removeNodeLocked(const NodeSink* node, std::vector<std::string>* emptied) {
  if (nodes_.erase(node) == 0) {
    return;
  }
  for (auto* index : {&channels_, &users_}) {
    for (auto it = index->begin(); it != index->end();) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [node](const NodeSinkPtr& n) { return n.get() == node; }),
                 list.end());
      if (list.empty()) {
        if (emptied != nullptr) {
          emptied->push_back(index == &users_ ? userStreamKey(it->first) : it->first);
        } else {
          removed(true, it->first, index == &users_);
        }
        it = index->erase(it);
      } else {
        ++it;
      }
    }
  }
}

void Router::setNode(const NodeSinkPtr& node, const std::vector<std::string>& channels,
                     const std::vector<std::string>& users) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  // A node saying Hello again keeps its streams: the listener hears only what really changed,
  // not a last-node-gone and first-node-back in between (which could drop publications).
  std::vector<std::string> emptied;
  removeNodeLocked(node.get(), &emptied);
  std::sort(emptied.begin(), emptied.end());
  auto had = [&](const std::string& key) {
    return std::binary_search(emptied.begin(), emptied.end(), key);
  };
  nodes_[node.get()] = node;
  for (const auto& c : channels) {
    added(addTo(&channels_, c, node) && !had(c), c, false);
  }
  for (const auto& u : users) {
    added(addTo(&users_, u, node) && !had(userStreamKey(u)), u, true);
  }
  if (listener_ != nullptr) {
    for (const auto& key : emptied) {
      const bool user = !key.empty() && key[0] == '#';
      const auto& index = user ? users_ : channels_;
      if (index.count(user ? key.substr(1) : key) == 0) {
        listener_->interestChanged(key, false);
      }
    }
  }
}

void Router::removeNode(const NodeSink* node) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  removeNodeLocked(node, nullptr);
}

void Router::applyDelta(const NodeSink* node, const herald::v1::InterestDelta& delta) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    return;  // removed (unhealthy): its interest returns with its next Hello
  }
  const NodeSinkPtr ptr = it->second;
  for (const auto& c : delta.channels_added()) {
    added(addTo(&channels_, c, ptr), c, false);
  }
  for (const auto& c : delta.channels_removed()) {
    removed(removeFrom(&channels_, c, node), c, false);
  }
  for (const auto& u : delta.users_added()) {
    added(addTo(&users_, u, ptr), u, true);
  }
  for (const auto& u : delta.users_removed()) {
    removed(removeFrom(&users_, u, node), u, true);
  }
}

uint32_t Router::forChannel(const std::string& channel, const Visit& visit) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = channels_.find(channel);
  if (it == channels_.end()) {
    return 0;
  }
  for (const auto& node : it->second) {
    visit(*node);
  }
  return static_cast<uint32_t>(it->second.size());
}

uint32_t Router::forUser(const std::string& user, const Visit& visit) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = users_.find(user);
  if (it == users_.end()) {
    return 0;
  }
  for (const auto& node : it->second) {
    visit(*node);
  }
  return static_cast<uint32_t>(it->second.size());
}

uint32_t Router::forAll(const Visit& visit) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto& [raw, node] : nodes_) {
    visit(*node);
  }
  return static_cast<uint32_t>(nodes_.size());
}

uint32_t Router::nodesForChannel(const std::string& channel) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : static_cast<uint32_t>(it->second.size());
}

std::map<std::string, uint32_t> Router::channelsWithInterest() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::map<std::string, uint32_t> out;
  for (const auto& [name, list] : channels_) {
    out[name] = static_cast<uint32_t>(list.size());
  }
  return out;
}

}  // namespace herald::control
