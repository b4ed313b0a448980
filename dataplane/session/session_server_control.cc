// ClientSession: what the server does to a connection without being asked by it
// (ControlService.Subscribe / Unsubscribe / Refresh, docs/api.md), and what the node reports
// of it for herald-control's client.* and subscription.* events (docs/hooks.md "Events").
#include <algorithm>

#include "common/channel_name.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/shard/shard_state.h"
#include "dataplane/transport/client_transport.h"

namespace herald::node {

void ClientSession::serverSubscribe(const std::string& channel, const StreamPosition* since) {
  // Before `connected` the client could not make sense of a `subscribed` frame.
  if (!greeted_ || waiting_for_backend_ || !transport_->isOpen()) {
    return;
  }
  const std::vector<std::string> channels{channel};
  SubscribePlan plan;
  // The backend decided: no rule is asked; names and limits still hold.
  Status s = planSubscribe(channels, &channels, nullptr, &plan);
  if (s.isOk()) {
    s = applySubscribe(&plan);
  }
  countRefusal(s);
  if (!s.isOk() || plan.fresh.empty()) {
    return;  // refused (counted), or held already: nothing changes for the client
  }
  send(buildServerSubscriptionFrame(channel, true));
  if (since != nullptr) {
    startRecovery(channel, *since);
  }
}

void ClientSession::serverUnsubscribe(const std::string& channel) {
  if (!greeted_ || waiting_for_backend_ || !transport_->isOpen() ||
      std::find(channels_.begin(), channels_.end(), channel) == channels_.end()) {
    return;
  }
  unsubscribe({channel});
  send(buildServerSubscriptionFrame(channel, false));
}

void ClientSession::serverRefresh(int64_t expire_at) {
  if (!greeted_) {
    return;  // not yet anyone: its token (or the connect hook) sets the expiry
  }
  expires_at_ = expire_at;    // 0: never; past: the sweep closes it with 4002
  refresh_declined_ = false;  // a new expiry: the refresh hook may be asked about it
}

void ClientSession::reportConnected() {
  ClientEventLog* log = shard_->node.client_log;
  if (reported_ || log == nullptr || !log->enabled()) {
    return;
  }
  reported_ = true;
  log->connected(clientId(), user_);
}

void ClientSession::reportSubscription(const std::string& channel, bool added) {
  if (!reported_) {
    return;
  }
  auto name = checkChannelName(channel);
  if (!name.isOk() || !shard_->settings->namespaceFor(name->ns).subscription_events()) {
    return;
  }
  if (added) {
    shard_->node.client_log->subscribed(clientId(), channel);
  } else {
    shard_->node.client_log->unsubscribed(clientId(), channel);
  }
}

void ClientSession::reportJoinLeave(const std::string& channel, bool joined) {
  JoinLeaveBatch* batch = shard_->node.join_leave;
  if (batch == nullptr || !shard_->settings->namespaceFor(namespaceOf(channel)).join_leave()) {
    return;
  }
  if (joined) {
    batch->joined(channel, clientId(), user_);
  } else {
    batch->left(channel, clientId(), user_);
  }
}

void ClientSession::reportClosed(uint16_t code, const std::string& reason) {
  if (!reported_) {
    return;
  }
  reported_ = false;
  // Its subscriptions end with it: herald-control reports their removal from its own record.
  shard_->node.client_log->disconnected(clientId(), code, reason);
}

void ClientSession::reportIdentified() {
  if (reported_) {
    shard_->node.client_log->identified(clientId(), user_);
  }
}

void ClientSession::reportClosing(uint16_t code, const std::string& reason) {
  if (reported_) {
    shard_->node.client_log->closing(clientId(), code, reason);
  }
}

}  // namespace herald::node
