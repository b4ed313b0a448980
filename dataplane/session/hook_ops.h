#pragma once
// What a session keeps while the backend's hooks decide for it (session_hooks.cc): shared
// between the hook calls' answers, which fill it on the session's shard thread.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "dataplane/session/stream_recovery.h"
#include "herald/v1/hooks.pb.h"

namespace herald::node {

// A subscribe frame (or the subscriptions of a greeting) with channels under the hook rule.
struct SubscribeHookOp {
  std::optional<uint64_t> frame_id;
  bool greeting = false;              // part of the `connected` frame, not a `subscribe` frame
  std::vector<std::string> channels;  // all the frame's channels, in order
  std::vector<std::pair<std::string, StreamPosition>> since;
  SubscriptionShape shape;          // the frame's, for the channels it subscribes
  std::vector<std::string> hooked;  // those the backend is asked about
  std::vector<std::optional<Result<herald::v1::SubscribeHookReply>>> answers;  // by hooked
  size_t waiting = 0;  // answers still to come
  // A greeting's: what the connect hook added (channels already subscribed, info JSON).
  std::vector<std::string> subscribed;
  std::string info;
};

}  // namespace herald::node
