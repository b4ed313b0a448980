#include "dataplane/link/client_event_log.h"

#include <algorithm>

namespace herald::node {

using herald::v1::ClientEvent;

namespace {

size_t namesBytes(const ClientEvent& e) {
  return e.client().size() + e.user().size() + e.channel().size() + e.reason().size() + 16;
}

size_t namesBytes(const herald::v1::ClientState& c) {
  size_t n = c.client().size() + c.user().size() + 16;
  for (const auto& channel : c.channels()) {
    n += channel.size() + 2;
  }
  return n;
}

}  // namespace

void ClientEventLog::setEnabled(bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool was = enabled_.exchange(enabled, std::memory_order_relaxed);
  if (!enabled) {
    clients_.clear();
    pending_.clear();
    pending_bytes_ = 0;
    ready_.clear();
    full_.clear();
    full_sending_ = false;
    full_requested_ = false;
  } else if (!was) {
    full_requested_ = true;  // herald-control may hold an older picture: replace it
  }
}

void ClientEventLog::setNotifier(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(mu_);
  notify_ = std::move(notify);
}

void ClientEventLog::connected(const std::string& client, const std::string& user) {
  record(ClientEvent::KIND_CONNECTED, client, user, 0, std::string());
}

void ClientEventLog::identified(const std::string& client, const std::string& user) {
  record(ClientEvent::KIND_IDENTIFIED, client, user, 0, std::string());
}

void ClientEventLog::disconnected(const std::string& client, uint16_t code,
                                  const std::string& reason) {
  record(ClientEvent::KIND_DISCONNECTED, client, std::string(), code, reason);
}

void ClientEventLog::subscribed(const std::string& client, const std::string& channel) {
  record(ClientEvent::KIND_SUBSCRIBED, client, channel, 0, std::string());
}

void ClientEventLog::unsubscribed(const std::string& client, const std::string& channel) {
  record(ClientEvent::KIND_UNSUBSCRIBED, client, channel, 0, std::string());
}

void ClientEventLog::closing(const std::string& client, uint16_t code, const std::string& reason) {
  if (!enabled()) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(client);
  if (it != clients_.end() && it->second.close_code == 0) {
    it->second.close_code = code;
    it->second.close_reason = reason;
  }
}

// `name` is the user (connected, identified) or the channel (subscribed, unsubscribed).
void ClientEventLog::record(ClientEvent::Kind kind, const std::string& client,
                            const std::string& name, uint16_t code, const std::string& reason) {
  if (!enabled()) {
    return;
  }
  std::function<void()> notify;
  {
    std::shared_lock<std::shared_mutex> order;
    if (order_ != nullptr) {
      order = std::shared_lock<std::shared_mutex>(*order_);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!enabled_.load(std::memory_order_relaxed)) {
      return;
    }
    ClientEvent event;
    event.set_kind(kind);
    event.set_client(client);
    // Only connections reported as connected have more to report (those greeted before
    // reporting was switched on are not known).
    auto it = clients_.find(client);
    if (kind == ClientEvent::KIND_CONNECTED) {
      if (it != clients_.end()) {
        return;
      }
      clients_.emplace(client, Client{name, {}, 0, {}});
      event.set_user(name);
    } else if (it == clients_.end()) {
      return;
    } else if (kind == ClientEvent::KIND_IDENTIFIED) {
      it->second.user = name;
      event.set_user(name);
    } else if (kind == ClientEvent::KIND_DISCONNECTED) {
      // A server close the transport could not finish shows as 1006: say what it was.
      const bool ours = it->second.close_code != 0 && (code == 1006 || code == 0);
      event.set_code(ours ? it->second.close_code : code);
      event.set_reason(ours ? it->second.close_reason : reason);
      clients_.erase(it);
    } else if (kind == ClientEvent::KIND_SUBSCRIBED) {
      it->second.channels.push_back(name);
      event.set_channel(name);
    } else if (kind == ClientEvent::KIND_UNSUBSCRIBED) {
      auto& channels = it->second.channels;
      auto found = std::find(channels.begin(), channels.end(), name);
      if (found == channels.end()) {
        return;
      }
      *found = std::move(channels.back());
      channels.pop_back();
      event.set_channel(name);
    } else {
      return;
    }
    if (full_requested_) {
      return;  // the full list, taken at the next seal, holds this already
    }
    pending_bytes_ += namesBytes(event);
    pending_.push_back(std::move(event));
    if (pending_.size() > kMaxPending || pending_bytes_ > kMaxPendingBytes) {
      full_requested_ = true;  // cheaper as a full list now
      pending_.clear();
      pending_bytes_ = 0;
    }
    notify = notify_;
  }
  if (notify) {
    notify();
  }
}

void ClientEventLog::requestFull() {
  std::lock_guard<std::mutex> lock(mu_);
  if (enabled_.load(std::memory_order_relaxed)) {
    full_requested_ = true;
  }
}

void ClientEventLog::snapshotLocked() {
  full_.clear();
  full_.reserve(clients_.size());
  for (const auto& [id, client] : clients_) {
    herald::v1::ClientState state;
    state.set_client(id);
    state.set_user(client.user);
    for (const auto& channel : client.channels) {
      state.add_channels(channel);
    }
    full_.push_back(std::move(state));
  }
  full_next_ = 0;
  full_sending_ = true;
  full_requested_ = false;
  ready_.clear();  // the list supersedes what happened before it
}

void ClientEventLog::seal() {
  std::lock_guard<std::mutex> lock(mu_);
  if (full_requested_) {
    snapshotLocked();
    pending_.clear();
    pending_bytes_ = 0;
    return;
  }
  for (auto& event : pending_) {
    ready_.push_back(std::move(event));
  }
  pending_.clear();
  pending_bytes_ = 0;
}

bool ClientEventLog::takeDelta(herald::v1::InterestDelta* delta) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t bytes = 0;
  if (full_sending_) {
    if (full_next_ == 0) {
      delta->set_clients_full(true);
    }
    while (full_next_ < full_.size() && (bytes < kMaxPartBytes || delta->clients_size() == 0)) {
      bytes += namesBytes(full_[full_next_]);
      *delta->add_clients() = std::move(full_[full_next_++]);
    }
    if (full_next_ == full_.size()) {
      delta->set_clients_end(true);
      full_.clear();
      full_sending_ = false;
    }
    return true;
  }
  if (ready_.empty()) {
    return false;
  }
  while (!ready_.empty() && (bytes < kMaxPartBytes || delta->client_events_size() == 0)) {
    bytes += namesBytes(ready_.front());
    *delta->add_client_events() = std::move(ready_.front());
    ready_.pop_front();
  }
  return true;
}

size_t ClientEventLog::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

}  // namespace herald::node
