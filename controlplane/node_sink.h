#pragma once

#include <memory>
#include <string>

#include "herald/v1/node_link.pb.h"

namespace herald::control {

using ControlMessagePtr = std::shared_ptr<const herald::v1::ControlMessage>;

// Where the control plane sends messages for one connected node. send() never blocks: it
// queues, and returns false when the node is gone or its queue overflowed (the node is then
// cut off and resyncs on reconnect).
class NodeSink {
 public:
  virtual ~NodeSink() = default;
  virtual const std::string& nodeId() const = 0;
  virtual bool send(ControlMessagePtr message) = 0;
};

using NodeSinkPtr = std::shared_ptr<NodeSink>;

}  // namespace herald::control
