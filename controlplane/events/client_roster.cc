#include "controlplane/events/client_roster.h"

#include <algorithm>
#include <unordered_set>

namespace herald::control {

bool ClientRoster::connect(const std::string& client, const std::string& user,
                           const std::string& node, std::vector<PresenceTransition>* out) {
  if (client.empty() || entries_ >= max_entries_ || clients_.count(client) != 0) {
    return false;
  }
  clients_.emplace(client, Client{user, {}});
  ++entries_;
  out->push_back(makeTransition(PresenceChange::kClientConnected, user, "", node, "", client));
  return true;
}

void ClientRoster::subscribe(const std::string& client, Client& state, const std::string& channel,
                             const std::string& node, std::vector<PresenceTransition>* out) {
  if (channel.empty() || entries_ >= max_entries_ ||
      std::find(state.channels.begin(), state.channels.end(), channel) != state.channels.end()) {
    return;
  }
  state.channels.push_back(channel);
  ++entries_;
  out->push_back(
      makeTransition(PresenceChange::kSubscriptionAdded, state.user, channel, node, "", client));
}

void ClientRoster::unsubscribe(const std::string& client, Client& state, const std::string& channel,
                               const std::string& node, const std::string& reason,
                               std::vector<PresenceTransition>* out) {
  auto it = std::find(state.channels.begin(), state.channels.end(), channel);
  if (it == state.channels.end()) {
    return;
  }
  *it = std::move(state.channels.back());
  state.channels.pop_back();
  --entries_;
  out->push_back(makeTransition(PresenceChange::kSubscriptionRemoved, state.user, channel, node,
                                reason, client));
}

void ClientRoster::disconnect(const std::string& client, uint32_t code, const std::string& node,
                              const std::string& reason, const std::string& channels_reason,
                              std::vector<PresenceTransition>* out) {
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    return;
  }
  // Its subscriptions end first.
  Client& state = it->second;
  for (const auto& channel : state.channels) {
    out->push_back(makeTransition(PresenceChange::kSubscriptionRemoved, state.user, channel, node,
                                  channels_reason, client));
  }
  entries_ -= state.channels.size();
  out->push_back(makeTransition(PresenceChange::kClientDisconnected, state.user, "", node, reason,
                                client, code));
  clients_.erase(it);
  --entries_;
}

void ClientRoster::apply(const herald::v1::ClientEvent& event, const std::string& node,
                         std::vector<PresenceTransition>* out) {
  switch (event.kind()) {
    case herald::v1::ClientEvent::KIND_CONNECTED:
      connect(event.client(), event.user(), node, out);
      return;
    case herald::v1::ClientEvent::KIND_DISCONNECTED:
      disconnect(event.client(), event.code(), node, event.reason(), "", out);
      return;
    case herald::v1::ClientEvent::KIND_IDENTIFIED: {
      // Its later events carry the user; nothing is sent for the change itself.
      auto it = clients_.find(event.client());
      if (it != clients_.end()) {
        it->second.user = event.user();
      }
      return;
    }
    case herald::v1::ClientEvent::KIND_SUBSCRIBED:
    case herald::v1::ClientEvent::KIND_UNSUBSCRIBED: {
      auto it = clients_.find(event.client());
      if (it == clients_.end()) {
        return;  // a connection it never reported (or beyond the bound)
      }
      if (event.kind() == herald::v1::ClientEvent::KIND_SUBSCRIBED) {
        subscribe(event.client(), it->second, event.channel(), node, out);
      } else {
        unsubscribe(event.client(), it->second, event.channel(), node, "", out);
      }
      return;
    }
    default:
      return;  // a kind from a newer node: nothing this version can say about it
  }
}

void ClientRoster::beginFull() {
  gathering_ = true;
  gathered_.clear();
  gathered_entries_ = 0;
}

void ClientRoster::addFull(
    const google::protobuf::RepeatedPtrField<herald::v1::ClientState>& part) {
  if (!gathering_) {
    return;  // a part without its start (a node of another version): nothing to add it to
  }
  for (const auto& client : part) {
    const size_t entries = 1 + static_cast<size_t>(client.channels_size());
    if (gathered_entries_ + entries > max_entries_) {
      return;  // what one node may make this hold at most
    }
    gathered_entries_ += entries;
    gathered_.push_back(client);
  }
}

void ClientRoster::endFull(const std::string& node, const std::string& reason,
                           std::vector<PresenceTransition>* out) {
  if (!gathering_) {
    return;
  }
  gathering_ = false;
  const std::vector<herald::v1::ClientState> clients = std::move(gathered_);
  gathered_.clear();
  gathered_entries_ = 0;
  std::unordered_set<std::string> present;
  for (const auto& fresh : clients) {
    present.insert(fresh.client());
  }
  // Gone first (their subscriptions, then them), so a full list never holds both.
  std::vector<std::string> gone;
  for (const auto& [client, state] : clients_) {
    if (present.count(client) == 0) {
      gone.push_back(client);
    }
  }
  for (const auto& client : gone) {
    disconnect(client, 0, node, reason, reason, out);
  }
  for (const auto& fresh : clients) {
    auto it = clients_.find(fresh.client());
    if (it == clients_.end()) {
      if (!connect(fresh.client(), fresh.user(), node, out)) {
        continue;
      }
      it = clients_.find(fresh.client());
    }
    Client& state = it->second;
    state.user = fresh.user();  // it may have authenticated meanwhile
    const std::unordered_set<std::string> wanted(fresh.channels().begin(), fresh.channels().end());
    std::vector<std::string> dropped;
    for (const auto& channel : state.channels) {
      if (wanted.count(channel) == 0) {
        dropped.push_back(channel);
      }
    }
    for (const auto& channel : dropped) {
      unsubscribe(fresh.client(), state, channel, node, reason, out);
    }
    for (const auto& channel : fresh.channels()) {
      subscribe(fresh.client(), state, channel, node, out);
    }
  }
}

void ClientRoster::clear(const std::string& node, uint32_t code, const std::string& reason,
                         std::vector<PresenceTransition>* out) {
  std::vector<std::string> all;
  all.reserve(clients_.size());
  for (const auto& [client, state] : clients_) {
    all.push_back(client);
  }
  for (const auto& client : all) {
    disconnect(client, code, node, reason, reason, out);
  }
  gathering_ = false;
  gathered_.clear();
  gathered_entries_ = 0;
}

void ClientRoster::adopt(const std::vector<herald::v1::ClientState>& clients) {
  forget();
  for (const auto& state : clients) {
    if (state.client().empty() || entries_ >= max_entries_) {
      continue;
    }
    Client& client = clients_[state.client()];
    client.user = state.user();
    ++entries_;
    for (const auto& channel : state.channels()) {
      if (entries_ >= max_entries_) {
        break;
      }
      client.channels.push_back(channel);
      ++entries_;
    }
  }
}

void ClientRoster::reconcile(const std::vector<herald::v1::ClientState>& previous,
                             const std::string& node, const std::string& reason,
                             std::vector<PresenceTransition>* out) {
  google::protobuf::RepeatedPtrField<herald::v1::ClientState> mine;
  for (const auto& [client, state] : clients_) {
    auto* entry = mine.Add();
    entry->set_client(client);
    entry->set_user(state.user);
    for (const auto& channel : state.channels) {
      entry->add_channels(channel);
    }
  }
  const bool gathering = gathering_;
  std::vector<herald::v1::ClientState> gathered = std::move(gathered_);
  const size_t gathered_entries = gathered_entries_;
  adopt(previous);
  beginFull();
  addFull(mine);
  endFull(node, reason, out);
  gathering_ = gathering;
  gathered_ = std::move(gathered);
  gathered_entries_ = gathered_entries;
}

void ClientRoster::forget() {
  clients_.clear();
  entries_ = 0;
  gathering_ = false;
  gathered_.clear();
  gathered_entries_ = 0;
}

}  // namespace herald::control
