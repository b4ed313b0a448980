#include "dataplane/fanout/group_delivery.h"

#include "common/conflation.h"
#include "common/namespace_label.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

// The group's frame of `d`, standing for the offsets after the last one sent to the group
// (`prev`); `d` becomes that last one.
FramePtr stamped(SubscriptionGroup& group, const Delivery& d, uint32_t replaced,
                 uint64_t lost_upto) {
  uint64_t prev = group.prev_epoch == d.epoch ? group.prev : 0;
  if (lost_upto > prev && lost_upto < d.offset) {
    prev = lost_upto;  // publications before this one were lost: let the client see it
  }
  group.prev = d.offset;
  if (group.prev_epoch != d.epoch) {
    group.prev_epoch = d.epoch;
  }
  return withPrevFrame(*d.frame, prev, isConflation(group.conflate_ms) ? int64_t{replaced} : -1);
}

// A smoothed group's tick: sends what is due (SmoothingQueue::dueAt), then schedules the next.
uint64_t sendSmoothed(ShardState& shard, const std::string& channel, SubscriptionGroup& group,
                      int64_t now_ms) {
  uint64_t deliveries = 0;
  const bool drop = shard.outbox.dropsOldest(&channel);
  const size_t count = group.smoothing.dueAt(now_ms);
  for (size_t i = 0; i < count; ++i) {
    const SmoothingQueue::Item item = group.smoothing.pop();
    sendToSessions(shard, group.members, &channel, *item.delivery,
                   stamped(group, *item.delivery, 0, item.lost_upto), drop, /*grouped=*/true);
    deliveries += group.members.size();
  }
  shard.deliveries.add(shard.settings->namespaceLabel(namespaceOf(channel)), &channel, deliveries);
  group.smoothing.sent(now_ms, count);
  group.next_send_ms = now_ms + 1;
  if (!group.smoothing.empty()) {
    group.next_send_ms = group.smoothing.nextAt(now_ms);
    shard.conflation.schedule(
        ConflationDue{group.next_send_ms, channel, group.filter, group.conflate_ms, group.id});
  }
  return deliveries;
}

// Smoothing (docs/protocol.md "Smoothing"): a publication to a quiet group goes at once; one
// that follows within a millisecond, or finds others waiting, waits its turn (sent from the
// shard's timer, after the frames of the current run, so order holds).
FramePtr smoothedFrame(ShardState& shard, const std::string& channel, SubscriptionGroup& group,
                       const DeliveryPtr& d, int64_t now_ms) {
  if (group.smoothing.empty() && now_ms >= group.next_send_ms) {
    group.smoothing.sent(now_ms, 1);
    group.next_send_ms = now_ms + 1;  // a burst right behind it is spread, not sent with it
    return stamped(group, *d, 0, group.lost_upto);
  }
  const bool was_empty = group.smoothing.empty();
  group.smoothing.setGauge(&shard.counters.smoothing_waiting);
  group.smoothing.push({d, now_ms + paceMs(group.conflate_ms), group.lost_upto});
  const int64_t at = group.smoothing.over() ? now_ms : group.smoothing.nextAt(now_ms);
  // A new timer entry only when the tick moves forward by half its wait or more: a burst of
  // n adds about log2(n) entries, not n. A tick later than its ideal slot catches up (dueAt).
  if (was_empty || at <= group.next_send_ms - (group.next_send_ms - now_ms) / 2) {
    group.next_send_ms = at;
    shard.conflation.schedule(
        ConflationDue{at, channel, group.filter, group.conflate_ms, group.id});
  }
  return nullptr;
}

}  // namespace

void sendToSessions(ShardState& shard, const std::vector<ClientSession*>& sessions,
                    const std::string* channel, const Delivery& d, const FramePtr& frame, bool drop,
                    bool grouped) {
  for (ClientSession* session : sessions) {
    if (grouped && session->recoveredPast(*channel, d)) {
      continue;
    }
    if (!session->recovering() || !session->holdForRecovery(channel, d, frame)) {
      shard.outbox.send(*session, frame, drop);
    }
  }
}

FramePtr groupFrame(ShardState& shard, const std::string& channel, SubscriptionGroup& group,
                    const DeliveryPtr& d, int64_t now_ms) {
  if (group.filter != nullptr && !group.filter->matches(d->tags)) {
    return nullptr;
  }
  if (isSmoothing(group.conflate_ms)) {
    return smoothedFrame(shard, channel, group, d, now_ms);
  }
  if (group.conflate_ms > 0) {
    // Leading edge: the first publication of a quiet interval goes at once; later ones in
    // the interval replace each other until it ends.
    if (group.pending != nullptr || now_ms < group.next_send_ms) {
      if (group.pending == nullptr) {
        shard.conflation.schedule(
            ConflationDue{group.next_send_ms, channel, group.filter, group.conflate_ms, group.id});
      } else {
        ++group.pending_replaced;
      }
      group.pending = d;
      return nullptr;
    }
    group.next_send_ms = now_ms + group.conflate_ms;
  }
  return stamped(group, *d, 0, group.lost_upto);
}

uint64_t flushConflated(ShardState& shard, int64_t now_ms) {
  uint64_t deliveries = 0;
  while (auto due = shard.conflation.popDue(now_ms)) {
    auto* entry = shard.channels.find(due->channel);
    SubscriptionGroup* group =
        entry == nullptr ? nullptr : entry->group(due->filter.get(), due->conflate_ms);
    if (group == nullptr || group->id != due->group_id) {
      continue;  // the group went away (its last member left), maybe replaced by a new one
    }
    if (isSmoothing(group->conflate_ms)) {
      // Only the group's latest entry counts (an earlier one was moved forward).
      if (due->due_ms == group->next_send_ms && !group->smoothing.empty()) {
        deliveries += sendSmoothed(shard, due->channel, *group, now_ms);
      }
      continue;
    }
    if (group->pending == nullptr) {
      continue;
    }
    const DeliveryPtr d = std::move(group->pending);
    group->pending = nullptr;
    const uint32_t replaced = group->pending_replaced;
    group->pending_replaced = 0;
    group->next_send_ms = now_ms + group->conflate_ms;
    const FramePtr frame = stamped(*group, *d, replaced, group->lost_upto);
    sendToSessions(shard, group->members, &d->channel, *d, frame,
                   shard.outbox.dropsOldest(&d->channel), /*grouped=*/true);
    deliveries += group->members.size();
    shard.deliveries.add(shard.settings->namespaceLabel(namespaceOf(d->channel)), &d->channel,
                         group->members.size());
  }
  shard.conflation.rearm();
  return deliveries;
}

}  // namespace herald::node
