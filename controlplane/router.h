#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/delivery_router.h"
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

  // DeliveryRouter
  uint32_t forChannel(const std::string& channel, const Visit& visit) const override;
  uint32_t forUser(const std::string& user, const Visit& visit) const override;
  uint32_t forAll(const Visit& visit) const override;
  uint32_t nodesForChannel(const std::string& channel) const override;
  std::map<std::string, uint32_t> channelsWithInterest() const override;

 private:
  using NodeList = std::vector<NodeSinkPtr>;
  static void addTo(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                    const NodeSinkPtr& node);
  static void removeFrom(std::unordered_map<std::string, NodeList>* index, const std::string& key,
                         const NodeSink* node);
  void removeNodeLocked(const NodeSink* node);

  mutable std::shared_mutex mu_;
  std::unordered_map<const NodeSink*, NodeSinkPtr> nodes_;
  std::unordered_map<std::string, NodeList> channels_;
  std::unordered_map<std::string, NodeList> users_;
};

}  // namespace herald::control
