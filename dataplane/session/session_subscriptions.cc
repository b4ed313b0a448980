// ClientSession: subscribe and unsubscribe, with permissions and limits (docs/protocol.md).
// A subscription under the `hook` rule waits for the backend (session_hooks.cc); the rest is
// decided here at once.
#include <algorithm>

#include "common/channel_name.h"
#include "common/conflation.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/hook_ops.h"
#include "dataplane/session/permissions.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

bool contains(const std::vector<std::string>* list, const std::string& item) {
  return list != nullptr && std::find(list->begin(), list->end(), item) != list->end();
}

}  // namespace

// Counts refused subscriptions by kind for /stats.
void ClientSession::countRefusal(const Status& s) {
  if (s.code() == ErrorCode::kPermissionDenied) {
    shard_->counters.subscribe_denied.fetch_add(1, std::memory_order_relaxed);
  } else if (s.code() == ErrorCode::kLimitExceeded) {
    shard_->counters.subscribe_over_limit.fetch_add(1, std::memory_order_relaxed);
  }
}

Status ClientSession::subscribe(const std::vector<std::string>& channels,
                                std::vector<std::string>* accepted, std::vector<std::string>* fresh,
                                const std::vector<std::string>* approved,
                                const SubscriptionShape& shape, bool strict_shape) {
  SubscribePlan plan;
  plan.shape = shape;
  plan.strict_shape = strict_shape;
  Status s = planSubscribe(channels, approved, nullptr, &plan);
  if (s.isOk()) {
    s = applySubscribe(&plan);
  }
  countRefusal(s);
  if (s.isOk()) {
    *accepted = channels;
    if (fresh != nullptr) {
      *fresh = std::move(plan.fresh);
    }
  }
  return s;
}

Status ClientSession::planSubscribe(const std::vector<std::string>& channels,
                                    const std::vector<std::string>* approved,
                                    std::vector<std::string>* hooked, SubscribePlan* plan) {
  const auto& settings = *shard_->settings;
  for (const auto& channel : channels) {
    auto name = checkChannelName(channel);
    if (!name.isOk()) {
      return name.status();
    }
    const herald::v1::Namespace& ns = settings.namespaceFor(name->ns);
    const bool held = std::find(channels_.begin(), channels_.end(), channel) != channels_.end();
    const bool already = held || contains(&plan->fresh, channel);
    if (held && plan->strict_shape) {
      // A held channel keeps how it was subscribed: a frame asking for another filter or
      // interval is refused rather than silently ignored.
      const SubscriptionShape have = shapeFor(channel);
      const uint32_t want_conflate = subscriptionPace(
          plan->shape.conflate_ms, namespacePace(ns.conflate_ms(), ns.smooth_ms()));
      // An option left out keeps what is held; one given must be what is held.
      const SubscriptionShape& asked = plan->shape;
      const bool other_filter = asked.filter != nullptr &&
                                (have.filter == nullptr || !have.filter->sameAs(*asked.filter));
      const bool other_conflate = asked.conflate_ms != 0 && asked.conflate_ms != have.conflate_ms &&
                                  want_conflate != have.conflate_ms;
      if (other_filter || other_conflate) {
        return Status(ErrorCode::kBadRequest,
                      "already subscribed to '" + channel +
                          "' with another filter or conflate_ms: unsubscribe it first");
      }
    }
    if (!contains(approved, channel)) {
      if (ns.subscribe_rule() == herald::v1::SUBSCRIBE_RULE_HOOK && hooked != nullptr) {
        // A channel held already was allowed when it was subscribed: not asked again.
        if (!already && !contains(hooked, channel)) {
          hooked->push_back(channel);
        }
      } else if (ns.subscribe_rule() == herald::v1::SUBSCRIBE_RULE_HOOK && already) {
        // Held, so the backend allowed it (the frame's other channels decide the rest).
      } else if (Status allowed = checkSubscribe(ns, name.value(), channel, claims_.get());
                 !allowed.isOk()) {
        return allowed;
      }
    }
    if (!already) {
      plan->fresh.push_back(channel);
      plan->caps.push_back(ns.max_subscribers());
      plan->conflate.push_back(namespacePace(ns.conflate_ms(), ns.smooth_ms()));
    }
  }
  return checkSubscriptionLimits(settings.limits, channels_, plan->fresh);
}

Status ClientSession::applySubscribe(SubscribePlan* plan) {
  const auto& fresh = plan->fresh;
  for (size_t i = 0; i < fresh.size(); ++i) {
    const uint32_t conflate = subscriptionPace(plan->shape.conflate_ms, plan->conflate[i]);
    if (!shard_->channels.canAdd(fresh[i], plan->shape.filter.get(), conflate, plan->conflate[i])) {
      return Status(ErrorCode::kLimitExceeded,
                    "channel '" + fresh[i] + "' already has " +
                        std::to_string(SubscriptionIndex<ClientSession>::kMaxGroupsPerChannel) +
                        " different filters or conflation intervals here; use one of them, "
                        "or none");
    }
  }
  if (auto full = shard_->node.subscribers->tryAdd(fresh, plan->caps)) {
    return Status(ErrorCode::kLimitExceeded,
                  "channel '" + fresh[*full] + "' has its namespace's max_subscribers (" +
                      std::to_string(plan->caps[*full]) + ") on this node");
  }
  for (size_t i = 0; i < fresh.size(); ++i) {
    const std::string& channel = fresh[i];
    // A subscription's interval is at least its namespace's; smoothing comes from it.
    SubscriptionShape shape = plan->shape;
    shape.conflate_ms = subscriptionPace(shape.conflate_ms, plan->conflate[i]);
    if (!shape.plain()) {
      if (!shapes_) {
        shapes_ = std::make_unique<std::vector<ShapedChannel>>();
      }
      shapes_->push_back(ShapedChannel{channel, shape, 0, {}});
    }
    if (shard_->channels.add(channel, this, shape.filter, shape.conflate_ms)) {
      shard_->node.interest->channelAdded(channel);
    }
    channels_.push_back(channel);
    reportSubscription(channel, true);
    reportJoinLeave(channel, true);
  }
  shard_->counters.subscriptions.fetch_add(fresh.size(), std::memory_order_relaxed);
  return Status::ok();
}

// A `subscribe` frame: answered at once, or once the backend has answered for the channels
// under the hook rule.
void ClientSession::subscribeFrame(std::optional<uint64_t> frame_id, const ClientCommand& cmd) {
  std::vector<std::string> hooked;
  SubscribePlan plan;
  plan.shape = cmd.shape;
  plan.strict_shape = true;
  Status s = planSubscribe(cmd.channels, nullptr, &hooked, &plan);
  if (s.isOk() && !hooked.empty()) {
    auto op = std::make_shared<SubscribeHookOp>();
    op->frame_id = frame_id;
    op->channels = cmd.channels;
    op->since = cmd.since;
    op->shape = cmd.shape;
    op->hooked = std::move(hooked);
    askSubscribeHooks(std::move(op));
    return;
  }
  if (s.isOk()) {
    s = applySubscribe(&plan);
  }
  countRefusal(s);
  if (!s.isOk()) {
    sendError(frame_id, s);
    return;
  }
  send(buildReplyFrame(frame_id, cmd.channels));
  startRecoveries(cmd.since, plan.fresh);
}

// `since` applies to channels this frame subscribed; held ones already get live frames.
void ClientSession::startRecoveries(
    const std::vector<std::pair<std::string, StreamPosition>>& since,
    const std::vector<std::string>& fresh) {
  for (const auto& [channel, position] : since) {
    if (std::find(fresh.begin(), fresh.end(), channel) != fresh.end()) {
      startRecovery(channel, position);
    }
  }
}

void ClientSession::unsubscribe(const std::vector<std::string>& channels) {
  for (const auto& channel : channels) {
    auto it = std::find(channels_.begin(), channels_.end(), channel);
    if (it == channels_.end()) {
      continue;
    }
    // Reported before the interest change, as every removal (ClientEventLog).
    reportSubscription(channel, false);
    reportJoinLeave(channel, false);
    *it = std::move(channels_.back());
    channels_.pop_back();
    shard_->counters.subscriptions.fetch_sub(1, std::memory_order_relaxed);
    shard_->node.subscribers->remove(channel);
    leaveIndex(channel);
  }
}

SubscriptionShape ClientSession::shapeFor(const std::string& channel) const {
  if (shapes_) {
    for (const auto& entry : *shapes_) {
      if (entry.channel == channel) {
        return entry.shape;
      }
    }
  }
  return {};
}

bool ClientSession::checkRecoveredPast(const std::string& channel, const Delivery& d) {
  for (auto& entry : *shapes_) {
    if (entry.channel != channel || entry.recovered_upto == 0) {
      continue;
    }
    if (entry.recovered_epoch == d.epoch && d.offset <= entry.recovered_upto) {
      return true;
    }
    entry.recovered_upto = 0;  // past it: nothing older can come any more
    --recovered_marks_;
  }
  return false;
}

void ClientSession::leaveIndex(const std::string& channel) {
  SubscriptionShape shape;  // its filter kept alive until the index no longer refers to it
  if (shapes_) {
    auto it = std::find_if(shapes_->begin(), shapes_->end(),
                           [&](const auto& entry) { return entry.channel == channel; });
    if (it != shapes_->end()) {
      shape = std::move(it->shape);
      if (it->recovered_upto != 0) {
        --recovered_marks_;
      }
      *it = std::move(shapes_->back());
      shapes_->pop_back();
    }
  }
  if (shard_->channels.remove(channel, this, shape.filter.get(), shape.conflate_ms)) {
    shard_->node.interest->channelRemoved(channel);
  }
  dropRecovery(channel);  // a later subscribe of it recovers afresh, with its own shape
}

}  // namespace herald::node
