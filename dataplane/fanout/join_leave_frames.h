#pragma once
// Join and leave frames (docs/protocol.md "join and leave"): built once per node from what
// herald-control relayed, written by each shard to its subscribers of the channel.
#include <memory>
#include <string>

#include "dataplane/fanout/delivery.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

struct ShardState;

struct JoinLeaveFrames {
  std::string channel;
  FramePtr join;   // null when nobody joined
  FramePtr leave;  // null when nobody left
};
using JoinLeaveFramesPtr = std::shared_ptr<const JoinLeaveFrames>;

// Null when `change` carries nothing.
JoinLeaveFramesPtr makeJoinLeaveFrames(const herald::v1::JoinLeave& change);

// On the shard's loop: to each subscriber of the channel, while its namespace has join_leave,
// through the outbox (the slow-consumer policy applies as to messages).
void sendJoinLeave(ShardState& shard, const JoinLeaveFrames& frames);

}  // namespace herald::node
