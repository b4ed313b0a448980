#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataplane/fanout/delivery.h"
#include "dataplane/node_settings.h"
#include "dataplane/shard/shard_counters.h"

namespace herald::node {

class ClientSession;

// Close codes of docs/protocol.md that the write path itself uses.
constexpr uint16_t kCloseSlowConsumer = 4008;

/**
 * A shard's write path to its clients, and its slow-consumer policy. A reading client's
 * frame goes straight to its transport; one that has fallen a socket window behind gets a
 * bounded queue (OutboundQueue, in its session), topped up every few milliseconds, where
 * the namespace's policy applies: drop the oldest publications, or close with 4008. So a slow
 * client never delays anyone else. One per shard, on the shard's thread only.
 */
class Outbox {
 public:
  // `settings` is the shard's current settings (read at each call); `arm_flush` asks the
  // shard's loop to call flush() soon (a connection just got a queue).
  Outbox(const NodeSettingsPtr& settings, ShardCounters& counters, std::function<void()> arm_flush);

  // A publication frame (`count` publications in a joined run).
  void send(ClientSession& session, const FramePtr& frame, bool drop_oldest, uint32_t count = 1);
  // A server frame (reply, error, recovery end): keeps its place behind queued frames, is
  // never dropped, and a client that sends without reading fills the same bounded queue.
  void sendText(ClientSession& session, const std::string& text);
  // Closes after what is queued (but not after a slow-consumer cut, which drops it).
  void close(ClientSession& session, uint16_t code, const std::string& reason);
  // The session closed: its queue goes.
  void forget(ClientSession& session);

  // Moves queued frames into transports with room again; true while any queue remains.
  bool flush();

  // The slow-consumer policy for a channel's namespace (nullptr: personal and broadcast
  // frames), falling back to the global one: true = drop oldest, false = disconnect.
  bool dropsOldest(const std::string* channel) const;
  // Most bytes handed to a transport (and the kernel behind it) per connection.
  size_t socketWindow() const;

 private:
  void enqueue(ClientSession& session, const FramePtr& frame, bool drop_oldest, bool kept,
               uint32_t count);
  void flushOne(ClientSession& session, bool everything);
  void clear(ClientSession& session);
  void countQueued(size_t before, size_t after);

  const NodeSettingsPtr& settings_;
  ShardCounters& counters_;
  std::function<void()> arm_flush_;
  std::vector<ClientSession*> backlogged_;  // sessions with queued frames
};

}  // namespace herald::node
