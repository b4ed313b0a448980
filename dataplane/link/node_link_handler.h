#pragma once

#include "common/status.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * What the NodeLink delivers to its node, one call per control-plane message, all on the
 * NodeLinkClient's reader thread (stats() on its writer thread). Implemented by the Node
 * (node.cc), which hands each to the resync or the shards; mocked in
 * tests/mocks/dataplane/mock_node_link_handler.h.
 */
class NodeLinkHandler {
 public:
  virtual ~NodeLinkHandler() = default;

  // A new session starts: state the previous one established (user blocks) is void.
  virtual void onSessionStarted() = 0;
  // Hello went out with this full interest (the session's first message).
  virtual void onHelloSent(const herald::v1::Hello& hello) = 0;
  // Validates and applies a snapshot; a non-ok status is sent back as Nack.
  virtual Status onConfig(const herald::v1::ConfigSnapshot& snapshot) = 0;
  // A publication for this node's clients (the first hop of the node's fan-out).
  virtual void onDeliver(const herald::v1::Deliver& deliver) = 0;
  virtual void onDisconnect(const herald::v1::DisconnectCommand& command) = 0;
  // ControlService.Subscribe / Unsubscribe / Refresh: a message of kind subscription or refresh.
  virtual void onServerCommand(const herald::v1::ControlMessage& command) = 0;
  // Joins and leaves of one channel, for this node's subscribers of it.
  virtual void onJoinLeave(const herald::v1::JoinLeave& change) = 0;
  virtual void onUserLimit(const herald::v1::UserLimit& limit) = 0;
  // A page of history: for the node's resync or for the shard whose request id it carries.
  virtual void onRecovered(const herald::v1::RecoverResponse& page) = 0;
  virtual void onPublished(const herald::v1::ClientPublishResult& result) = 0;
  virtual void onPresenceQuery(const herald::v1::PresenceQuery& query) = 0;
  // The heartbeat's figures (writer thread).
  virtual herald::v1::NodeStats currentStats() = 0;
};

}  // namespace herald::node
