#pragma once
// One node's connections as herald-control's client.* and subscription.* events see them
// (docs/hooks.md "Events"): what the node reported, and the events each report makes.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/events/presence_transition.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

class ClientRoster {
 public:
  // Close code of the client.disconnected a node's loss makes: the client saw its TCP
  // connection end without a closing handshake (WebSocket 1006).
  static constexpr uint32_t kCodeNodeLost = 1006;

  // Connections and subscriptions one node may make it hold at most; beyond are ignored.
  explicit ClientRoster(size_t max_entries) : max_entries_(max_entries) {}

  // One event of the node's, in its order.
  void apply(const herald::v1::ClientEvent& event, const std::string& node,
             std::vector<PresenceTransition>* out);
  // A full list in parts (InterestDelta.clients_full, clients, clients_end): gathered, then
  // at the end it replaces what was held: what is new is connected or subscribed, what is
  // gone ends with code 0 (not known) and `reason`. A new start drops a list not ended.
  void beginFull();
  void addFull(const google::protobuf::RepeatedPtrField<herald::v1::ClientState>& part);
  void endFull(const std::string& node, const std::string& reason,
               std::vector<PresenceTransition>* out);
  // Everything ends (the node is lost or restarted): each subscription, then each connection.
  void clear(const std::string& node, uint32_t code, const std::string& reason,
             std::vector<PresenceTransition>* out);
  // Starts from `clients` without a word: the node's connections as another replica
  // reported them (NodeHandover).
  void adopt(const std::vector<herald::v1::ClientState>& clients);
  // Redis lost what this replica reported of the node (it was taken for lost, and another
  // replica ended those connections there): reports, against `previous` (what Redis still
  // has), what it holds now. A full list being gathered meanwhile goes on.
  void reconcile(const std::vector<herald::v1::ClientState>& previous, const std::string& node,
                 const std::string& reason, std::vector<PresenceTransition>* out);
  // Forgets everything without a word (the node no longer reports: nothing is known).
  void forget();

  size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    std::string user;
    std::vector<std::string> channels;
  };
  bool connect(const std::string& client, const std::string& user, const std::string& node,
               std::vector<PresenceTransition>* out);
  void subscribe(const std::string& client, Client& state, const std::string& channel,
                 const std::string& node, std::vector<PresenceTransition>* out);
  void unsubscribe(const std::string& client, Client& state, const std::string& channel,
                   const std::string& node, const std::string& reason,
                   std::vector<PresenceTransition>* out);
  // `code` and `reason` are the connection's; its subscriptions end with `channels_reason`.
  void disconnect(const std::string& client, uint32_t code, const std::string& node,
                  const std::string& reason, const std::string& channels_reason,
                  std::vector<PresenceTransition>* out);

  const size_t max_entries_;
  size_t entries_ = 0;  // connections plus subscriptions held
  std::unordered_map<std::string, Client> clients_;
  bool gathering_ = false;
  size_t gathered_entries_ = 0;
  std::vector<herald::v1::ClientState> gathered_;  // a full list being received
};

}  // namespace herald::control
