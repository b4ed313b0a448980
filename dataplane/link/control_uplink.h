#pragma once

#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * What a shard sends to herald-control over the NodeLink: history requests for recoveries
 * and client publications. Implemented by the Node (over NodeLinkClient); mocked in
 * tests/mocks/dataplane/mock_control_uplink.h. Thread-safe.
 */
class ControlUplink {
 public:
  virtual ~ControlUplink() = default;
  // Queues a history request; false when it cannot be sent (no link).
  virtual bool recover(const herald::v1::RecoverRequest& request) = 0;
  // Sends a client publication; false when the link is down (the client hears "unavailable").
  virtual bool publish(const herald::v1::ClientPublish& request) = 0;
};

}  // namespace herald::node
