#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/channel_history.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

struct PublishOutcome {
  Status status;  // not ok: nothing was published (e.g. kUnavailable when Redis is away)
  uint64_t offset = 0;
  std::string epoch;
  uint32_t nodes = 0;  // nodes of this control plane the publication was routed to
  bool duplicate = false;
};

// A stream's retained past as read by History and recovery.
struct HistoryResult {
  Status status;                             // not ok: the read failed, nothing is known
  std::vector<PublicationPtr> publications;  // oldest first
  uint64_t offset = 0;                       // the stream's current offset
  std::string epoch;                         // the stream's current epoch ("" if never used)
  bool recovered = false;                    // publications start right after `since`
};

// What a history read asks for. An empty epoch means "the current one".
struct HistoryQuery {
  uint64_t since = 0;
  std::string epoch;
  uint32_t limit = 0;    // 0 = no limit
  size_t max_bytes = 0;  // 0 = no limit
};

// Who sent a client publication (WebSocket `publish`); empty for Control API publications.
struct PublisherInfo {
  std::string user;
  std::string client;
};

// One publication on a channel; `channel` and `data` are already validated.
struct PublishItem {
  std::string channel;
  std::string event;
  std::string data;
  std::string idempotency_key;
  int64_t ts_unix_ms = 0;
  HistoryPolicy history;
  PublisherInfo publisher;
  int64_t accepted_unix_us = 0;  // when herald-control accepted it (Publication.accepted_unix_us)
  std::map<std::string, std::string> tags;  // checked (common/publication_tags.h)
};

// One publication on a user's personal stream (SendToUser).
struct UserPublishItem {
  std::string user;
  std::string event;
  std::string data;
  int64_t ts_unix_ms = 0;
  HistoryPolicy history;
  int64_t accepted_unix_us = 0;  // as in PublishItem
};

/**
 * Where streams live: per-channel (and per-user, for SendToUser) offsets, epochs and history,
 * and the hand-off of each publication to the nodes that want it, in offset order.
 * `memory` (MemoryStreamEngine) keeps them in this process; `redis` (RedisStreamEngine) in Redis,
 * shared by every control-plane replica. Each is built with the Router it hands publications
 * to. Thread-safe: called from gRPC handler threads and NodeLink sessions at once; mocked in
 * tests/mocks/controlplane/mock_stream_engine.h.
 */
class StreamEngine {
 public:
  virtual ~StreamEngine() = default;

  // Assigns the next offset, keeps the publication in history and hands it to the nodes that
  // want it (through the Router the engine was built with).
  virtual PublishOutcome publish(const PublishItem& item) = 0;
  // Publishes `items` in order (per channel); returns one outcome per item up to the first
  // failure, whose status the last one carries. The memory engine attempts nothing after it;
  // the redis engine may have published later items that live on other Redis instances.
  virtual std::vector<PublishOutcome> publishBatch(const std::vector<PublishItem>& items) {
    std::vector<PublishOutcome> out;
    out.reserve(items.size());
    for (const auto& item : items) {
      out.push_back(publish(item));
      if (!out.back().status.isOk()) {
        break;
      }
    }
    return out;
  }
  // A publication on the user's personal stream, routed to every node holding the user.
  virtual PublishOutcome sendToUser(const UserPublishItem& item) = 0;

  // Channels' joins and leaves (docs/protocol.md "join and leave"), each handed to the nodes
  // with subscribers of its channel, through every replica, in order; kept nowhere, at most
  // once. Not ok when some could not be handed on (Redis away).
  virtual Status relayJoinLeave(const std::vector<herald::v1::JoinLeave>& changes) = 0;

  virtual HistoryResult history(const std::string& channel, const HistoryQuery& query,
                                int64_t now_ms) const = 0;
  virtual HistoryResult userHistory(const std::string& user, const HistoryQuery& query,
                                    int64_t now_ms) const = 0;

  // Returns once this process receives the stream's live publications (at most `max` later):
  // called before a recovery's history read, so that nothing published after the read can
  // miss both the read and the live path. The memory engine always does; the Redis engine
  // subscribes only to the streams some node wants. False when that did not happen in time
  // (the caller must not then claim a complete recovery).
  virtual bool awaitSubscribed(const std::string& /*name*/, bool /*user_stream*/,
                               std::chrono::milliseconds /*max*/) const {
    return true;
  }

  // Returns once every publication of the stream made before the call has been handed to this
  // process's nodes (at most `max` later), so that a recovery reply sent after it cannot
  // overtake live deliveries it already contains. The memory engine routes while publishing.
  virtual void awaitRouted(const std::string& /*name*/, bool /*user_stream*/,
                           std::chrono::milliseconds /*max*/) const {}

  // Drops history past its TTL; returns the number of publications dropped.
  virtual size_t expire(int64_t now_ms) = 0;

  struct ChannelState {
    uint64_t offset = 0;
    std::string epoch;
    uint64_t history = 0;  // publications retained
  };
  // Every channel's state, sorted by name (no user streams).
  virtual Result<std::map<std::string, ChannelState>> list() const = 0;
  // Publications accepted through this process.
  virtual uint64_t publications() const = 0;

  // What history holds, for /metrics; nullopt when the engine does not know cheaply (Redis:
  // its own exporter does).
  struct HistorySize {
    uint64_t streams = 0;       // channels and personal streams
    uint64_t publications = 0;  // retained for recovery
  };
  virtual std::optional<HistorySize> historySize() const { return std::nullopt; }
};

}  // namespace herald::control
