#include "controlplane/router.h"

#include <algorithm>
#include <mutex>

namespace herald::control {

void Router::addTo(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                   const NodeSinkPtr& node) {
  auto& list = (*index)[key];
  for (const auto& existing : list) {
    if (existing.get() == node.get()) {
      return;
    }
  }
  list.push_back(node);
}

void Router::removeFrom(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                        const NodeSink* node) {
  auto it = index->find(key);
  if (it == index->end()) {
    return;
  }
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [node](const NodeSinkPtr& n) { return n.get() == node; }),
             list.end());
  if (list.empty()) {
    index->erase(it);
  }
}

void Router::removeNodeLocked(const NodeSink* node) {
  if (nodes_.erase(node) == 0) {
    return;
  }
  for (auto* index : {&channels_, &users_}) {
    for (auto it = index->begin(); it != index->end();) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [node](const NodeSinkPtr& n) { return n.get() == node; }),
                 list.end());
      it = list.empty() ? index->erase(it) : std::next(it);
    }
  }
}

void Router::setNode(const NodeSinkPtr& node, const std::vector<std::string>& channels,
                     const std::vector<std::string>& users) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  removeNodeLocked(node.get());
  nodes_[node.get()] = node;
  for (const auto& c : channels) {
    addTo(&channels_, c, node);
  }
  for (const auto& u : users) {
    addTo(&users_, u, node);
  }
}

void Router::removeNode(const NodeSink* node) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  removeNodeLocked(node);
}

void Router::applyDelta(const NodeSink* node, const herald::v1::InterestDelta& delta) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    return;  // removed (unhealthy): its interest returns with its next Hello
  }
  const NodeSinkPtr ptr = it->second;
  for (const auto& c : delta.channels_added()) {
    addTo(&channels_, c, ptr);
  }
  for (const auto& c : delta.channels_removed()) {
    removeFrom(&channels_, c, node);
  }
  for (const auto& u : delta.users_added()) {
    addTo(&users_, u, ptr);
  }
  for (const auto& u : delta.users_removed()) {
    removeFrom(&users_, u, node);
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
