#pragma once
// With several replicas (--engine redis), a node moves between them: its replica died, or its
// link broke and it reconnected to another. The replica it joins must start from the node's
// connections as the cluster last reported them, so that it reports only what changed (no
// second client.connected, and a client.disconnected for what closed meanwhile).
#include <optional>
#include <string>
#include <vector>

#include "herald/v1/node_link.pb.h"

namespace herald::control {

class NodeHandover {
 public:
  struct Previous {
    std::string instance;  // Hello.instance of the node's start they belong to ("": unknown)
    std::vector<herald::v1::ClientState> clients;
  };
  virtual ~NodeHandover() = default;
  // Makes this replica the one reporting `node`'s connections (another replica's later
  // reports of it are ignored). Returns them as the cluster last knew them when another
  // replica, or an earlier start of this one, reported the node (`always`: also when this
  // one did); nullopt when this one did, or the cluster could not be asked.
  virtual std::optional<Previous> takeOver(const std::string& node, const std::string& instance,
                                           bool always = false) = 0;
};

}  // namespace herald::control
