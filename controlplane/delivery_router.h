#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "controlplane/node_sink.h"

namespace herald::control {

/**
 * Which of this control plane's nodes want a stream, and the hand-off to them: what the
 * stream engines and the Control API need of the Router (router.h), which implements it from
 * the nodes' declared interest. Thread-safe (called from gRPC handler threads, NodeLink
 * sessions and the Redis subscribers at once); mocked in tests/mocks/controlplane/mocks.h.
 */
class DeliveryRouter {
 public:
  using Visit = std::function<void(NodeSink&)>;
  virtual ~DeliveryRouter() = default;

  // Each calls `visit` for every matching node and returns how many it visited.
  virtual uint32_t forChannel(const std::string& channel, const Visit& visit) const = 0;
  virtual uint32_t forUser(const std::string& user, const Visit& visit) const = 0;
  virtual uint32_t forAll(const Visit& visit) const = 0;

  virtual uint32_t nodesForChannel(const std::string& channel) const = 0;
  // Channels with interest, sorted, with the number of nodes holding subscribers.
  virtual std::map<std::string, uint32_t> channelsWithInterest() const = 0;
};

}  // namespace herald::control
