#include "dataplane/fanout/join_leave_frames.h"

#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

JoinLeaveFramesPtr makeJoinLeaveFrames(const herald::v1::JoinLeave& change) {
  auto frames = std::make_shared<JoinLeaveFrames>();
  frames->channel = change.channel();
  if (std::string text = buildJoinLeaveFrame(change, true); !text.empty()) {
    frames->join = prepareTextFrame(text);
  }
  if (std::string text = buildJoinLeaveFrame(change, false); !text.empty()) {
    frames->leave = prepareTextFrame(text);
  }
  if (frames->join == nullptr && frames->leave == nullptr) {
    return nullptr;
  }
  return frames;
}

void sendJoinLeave(ShardState& shard, const JoinLeaveFrames& frames) {
  // The namespace may have turned join_leave off since the node reported.
  if (!shard.settings->namespaceFor(namespaceOf(frames.channel)).join_leave()) {
    return;
  }
  const auto* subs = shard.channels.find(frames.channel);
  if (subs == nullptr) {
    return;
  }
  const bool drop = shard.outbox.dropsOldest(&frames.channel);
  // Count 0: not publications, so neither delivered nor dropped ones in the counters.
  subs->forEach([&](ClientSession* session) {
    if (session->backlog) {
      // A connection already behind gets none: membership must not push its publications
      // out of the queue, nor close it as a slow consumer (docs/protocol.md).
      shard.counters.join_leave_skipped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Leaves first: a connection that left and another that joined in one window read as a
    // replacement, never as both present at once.
    if (frames.leave != nullptr) {
      shard.outbox.send(*session, frames.leave, drop, 0);
    }
    if (frames.join != nullptr) {
      shard.outbox.send(*session, frames.join, drop, 0);
    }
  });
}

}  // namespace herald::node
