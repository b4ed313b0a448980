#pragma once
// One change herald-control tells the backend about (docs/hooks.md "Events").
#include <cstdint>
#include <string>

namespace herald::control {

enum class PresenceChange {
  kUserOnline,
  kUserOffline,
  kChannelOccupied,
  kChannelVacated,
  kClientConnected,
  kClientDisconnected,
  kSubscriptionAdded,
  kSubscriptionRemoved,
};
const char* presenceChangeName(PresenceChange change);  // "user.online", ...

struct PresenceTransition {
  PresenceChange change = PresenceChange::kUserOnline;
  std::string user;     // user.*, client.*, subscription.* ("" anonymous)
  std::string channel;  // channel.*, subscription.*
  std::string node;     // the node whose report (or loss) made it happen
  std::string reason;   // client.disconnected's close reason; for a node's loss: why
  std::string client;   // client.*, subscription.*
  uint32_t code = 0;    // client.disconnected: the close code
};

inline PresenceTransition makeTransition(PresenceChange change, const std::string& user,
                                         const std::string& channel, const std::string& node,
                                         const std::string& reason,
                                         const std::string& client = std::string(),
                                         uint32_t code = 0) {
  PresenceTransition t;
  t.change = change;
  t.user = user;
  t.channel = channel;
  t.node = node;
  t.reason = reason;
  t.client = client;
  t.code = code;
  return t;
}

}  // namespace herald::control
