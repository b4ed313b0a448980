#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/delivery_router.h"
#include "controlplane/interest_listener.h"
#include "controlplane/node_sink.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

/**
 * Interest-based routing: which nodes hold subscribers of a channel and which hold
 * connections of a user. Fed by each node's Hello (full interest) and InterestDelta messages;
 * a node removed here receives nothing more. Readers (publish path) take a shared lock only.
 */
class Router final : public DeliveryRouter {
 public:
  // Registers (or re-registers, replacing its interest) a node with its full interest.
  void setNode(const NodeSinkPtr& node, const std::vector<std::string>& channels,
               const std::vector<std::string>& users);
  void removeNode(const NodeSink* node);
  void applyDelta(const NodeSink* node, const herald::v1::InterestDelta& delta);
  // Told of each stream's first and last interested node from now on (set before nodes link).
  void setInterestListener(InterestListener* listener);

  // DeliveryRouter
  uint32_t forChannel(const std::string& channel, const Visit& visit) const override;
  uint32_t forUser(const std::string& user, const Visit& visit) const override;
  uint32_t forAll(const Visit& visit) const override;
  uint32_t nodesForChannel(const std::string& channel) const override;
  std::map<std::string, uint32_t> channelsWithInterest() const override;

 private:
  using NodeList = std::vector<NodeSinkPtr>;
  // Both return whether the key gained its first node / lost its last one.
  static bool addTo(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                    const NodeSinkPtr& node);
  static bool removeFrom(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                         const NodeSink* node);
  void added(bool first, const std::string& key, bool user) const;
  void removed(bool last, const std::string& key, bool user) const;
  // `emptied` (if given) collects the stream keys left without a node instead of telling the
  // listener.
  void removeNodeLocked(const NodeSink* node, std::vector<std::string>* emptied);

  mutable std::shared_mutex mu_;
  InterestListener* listener_ = nullptr;
  std::unordered_map<const NodeSink*, NodeSinkPtr> nodes_;
  std::unordered_map<std::string, NodeList> channels_;
  std::unordered_map<std::string, NodeList> users_;
};

}  // namespace herald::control
