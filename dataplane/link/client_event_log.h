#pragma once
// What happened to each connection, for herald-control's client.* and subscription.* events
// (docs/hooks.md "Events"). Off unless the config asks for it (ConfigSnapshot.report_clients).
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * Node-wide and thread-safe: shards report a connection's greeting, identity, close and
 * subscription changes (in namespaces with subscription_events); the NodeLink writer seals
 * what happened, under the order lock it also takes the InterestTracker's delta under, and
 * sends it in parts of at most kMaxPartBytes. After a Hello, when reporting is switched on, or
 * when more than kMaxPending events (kMaxPendingBytes of names) wait, the full list of
 * connections goes instead (InterestDelta.clients_full ... clients_end): a burst costs bigger
 * messages, never a wrong picture or an unbounded queue.
 *
 * Shards report additions after the interest change they make (a user's first connection,
 * a channel's first subscriber) and removals before theirs, so that herald-control, which
 * applies a delta's additions before its events and its removals after, hears them in order.
 */
class ClientEventLog {
 public:
  static constexpr size_t kMaxPending = 100000;
  static constexpr size_t kMaxPendingBytes = 8 << 20;
  static constexpr size_t kMaxPartBytes = 1 << 20;

  // On: connections greeted from now on are reported, and a full list goes first. Off:
  // forgets everything.
  void setEnabled(bool enabled);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  void connected(const std::string& client, const std::string& user);
  // An anonymous connection authenticated.
  void identified(const std::string& client, const std::string& user);
  // The server is closing it with this code: reported if the transport ends it without a
  // finished closing handshake (which it reports as 1006).
  void closing(const std::string& client, uint16_t code, const std::string& reason);
  void disconnected(const std::string& client, uint16_t code, const std::string& reason);
  void subscribed(const std::string& client, const std::string& channel);
  void unsubscribed(const std::string& client, const std::string& channel);

  // A new link: the full list goes before any event (after a Hello saying reports_clients).
  void requestFull();
  // Under the order lock (exclusive), with the interest delta: what happened until now is
  // what the following takeDelta() calls send.
  void seal();
  // The next part of what seal() set aside, added to `delta`; false when nothing is left.
  bool takeDelta(herald::v1::InterestDelta* delta);

  // Called (outside the lock) when something becomes pending.
  void setNotifier(std::function<void()> notify);
  // Reports take `order` shared (see InterestTracker::setOrderLock).
  void setOrderLock(std::shared_mutex* order) { order_ = order; }

  size_t clients() const;

 private:
  struct Client {
    std::string user;
    std::vector<std::string> channels;
    uint16_t close_code = 0;  // the server's, once it began closing
    std::string close_reason;
  };
  void record(herald::v1::ClientEvent::Kind kind, const std::string& client,
              const std::string& channel, uint16_t code, const std::string& reason);
  void snapshotLocked();

  std::atomic<bool> enabled_{false};
  std::shared_mutex* order_ = nullptr;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Client> clients_;
  std::deque<herald::v1::ClientEvent> pending_;  // since the last seal()
  size_t pending_bytes_ = 0;
  bool full_requested_ = false;
  std::deque<herald::v1::ClientEvent> ready_;  // sealed, to send
  std::vector<herald::v1::ClientState> full_;  // a sealed full list, to send in parts
  size_t full_next_ = 0;
  bool full_sending_ = false;
  std::function<void()> notify_;
};

}  // namespace herald::node
