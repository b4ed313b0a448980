// ClientSession: subscribe and unsubscribe, with permissions and limits (docs/protocol.md).
#include <algorithm>

#include "common/channel_name.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/permissions.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

// Counts refused subscriptions by kind for /stats.
Status ClientSession::subscribe(const std::vector<std::string>& channels,
                                std::vector<std::string>* accepted,
                                std::vector<std::string>* fresh) {
  std::vector<std::string> added;
  Status s = subscribeAll(channels, &added);
  if (s.code() == ErrorCode::kPermissionDenied) {
    shard_->counters.subscribe_denied.fetch_add(1, std::memory_order_relaxed);
  } else if (s.code() == ErrorCode::kLimitExceeded) {
    shard_->counters.subscribe_over_limit.fetch_add(1, std::memory_order_relaxed);
  }
  if (s.isOk()) {
    *accepted = channels;
    if (fresh != nullptr) {
      *fresh = std::move(added);
    }
  }
  return s;
}

Status ClientSession::subscribeAll(const std::vector<std::string>& channels,
                                   std::vector<std::string>* added) {
  const auto& settings = *shard_->settings;
  std::vector<std::string> fresh;
  std::vector<uint32_t> caps;  // each fresh channel's namespace max_subscribers
  for (const auto& channel : channels) {
    auto name = checkChannelName(channel);
    if (!name.isOk()) {
      return name.status();
    }
    const herald::v1::Namespace& ns = settings.namespaceFor(name->ns);
    Status allowed = checkSubscribe(ns, name.value(), channel, claims_.get());
    if (!allowed.isOk()) {
      return allowed;
    }
    const bool already =
        std::find(channels_.begin(), channels_.end(), channel) != channels_.end() ||
        std::find(fresh.begin(), fresh.end(), channel) != fresh.end();
    if (!already) {
      fresh.push_back(channel);
      caps.push_back(ns.max_subscribers());
    }
  }
  if (Status within = checkSubscriptionLimits(settings.limits, channels_, fresh); !within.isOk()) {
    return within;
  }
  if (auto full = shard_->node.subscribers->tryAdd(fresh, caps)) {
    return Status(ErrorCode::kLimitExceeded, "channel '" + fresh[*full] +
                                                 "' has its namespace's max_subscribers (" +
                                                 std::to_string(caps[*full]) + ") on this node");
  }
  for (auto& channel : fresh) {
    if (shard_->channels.add(channel, this)) {
      shard_->node.interest->channelAdded(channel);
    }
    channels_.push_back(channel);
  }
  shard_->counters.subscriptions.fetch_add(fresh.size(), std::memory_order_relaxed);
  *added = std::move(fresh);
  return Status::ok();
}

void ClientSession::unsubscribe(const std::vector<std::string>& channels) {
  for (const auto& channel : channels) {
    auto it = std::find(channels_.begin(), channels_.end(), channel);
    if (it == channels_.end()) {
      continue;
    }
    *it = std::move(channels_.back());
    channels_.pop_back();
    shard_->counters.subscriptions.fetch_sub(1, std::memory_order_relaxed);
    shard_->node.subscribers->remove(channel);
    if (shard_->channels.remove(channel, this)) {
      shard_->node.interest->channelRemoved(channel);
    }
  }
}

}  // namespace herald::node
