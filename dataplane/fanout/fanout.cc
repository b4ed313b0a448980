#include "dataplane/fanout/fanout.h"

#include "common/clock.h"
#include "common/namespace_label.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

// Writes `frame` (standing for `count` publications) to `sessions`; a recovering session holds
// `d`'s instead (`held`: its own frame of `d` for that session).
void sendAll(ShardState& shard, const std::vector<ClientSession*>& sessions,
             const std::string* channel, const Delivery& d, const FramePtr& frame, bool drop) {
  for (ClientSession* session : sessions) {
    if (!session->recovering() || !session->holdForRecovery(channel, d, frame)) {
      shard.outbox.send(*session, frame, drop);
    }
  }
}

// A filter group's frame of `d`: null when its filter does not match; else `d`'s frame with
// the group's `prev`, which then moves to `d`. One evaluation and one frame per group, however
// many members it has.
FramePtr groupFrame(SubscriptionIndex<ClientSession>::FilterGroup& group, const Delivery& d) {
  if (!group.filter->matches(d.tags)) {
    return nullptr;
  }
  const uint64_t prev = group.prev_epoch == d.epoch ? group.prev : 0;
  group.prev = d.offset;
  if (group.prev_epoch != d.epoch) {
    group.prev_epoch = d.epoch;
  }
  return withPrevFrame(*d.frame, prev);
}

// One delivery to the sessions it targets: a channel's subscribers, a user's connections,
// or every greeted connection of the shard. Returns how many it reached.
uint64_t deliverOne(ShardState& shard, const Delivery& d) {
  Outbox& outbox = shard.outbox;
  uint64_t recipients = 0;
  switch (d.target) {
    case herald::v1::DELIVERY_TARGET_CHANNEL:
      if (auto* subs = shard.channels.find(d.channel)) {
        const bool drop = outbox.dropsOldest(&d.channel);
        recipients = subs->plain.size();
        sendAll(shard, subs->plain, &d.channel, d, d.frame, drop);
        for (auto& group : subs->groups) {
          if (FramePtr frame = groupFrame(group, d)) {
            recipients += group.members.size();
            sendAll(shard, group.members, &d.channel, d, frame, drop);
          }
        }
      }
      break;
    case herald::v1::DELIVERY_TARGET_USER: {
      auto it = shard.users.find(d.user);
      if (it != shard.users.end()) {
        recipients = it->second.size();
        sendAll(shard, it->second, nullptr, d, d.frame, outbox.dropsOldest(nullptr));
      }
      break;
    }
    case herald::v1::DELIVERY_TARGET_ALL: {
      const bool drop = outbox.dropsOldest(nullptr);
      for (ClientSession* session : shard.sessions) {
        if (session->greeted()) {  // not to connections still waiting for a token
          ++recipients;
          outbox.send(*session, d.frame, drop);
        }
      }
      break;
    }
    default:
      break;
  }
  return recipients;
}

// `frames[n]` (of publications batch[i + n]) to `sessions`: joined once and written once per
// connection; a recovering session holds them one by one.
void sendRun(ShardState& shard, const std::vector<ClientSession*>& sessions,
             const std::vector<DeliveryPtr>& batch, const std::vector<size_t>& which,
             const std::vector<FramePtr>& frames, bool drop) {
  if (sessions.empty() || frames.empty()) {
    return;
  }
  std::vector<const PreparedFrame*> parts;
  parts.reserve(frames.size());
  for (const auto& f : frames) {
    parts.push_back(f.get());
  }
  const FramePtr joined = frames.size() == 1 ? frames[0] : joinFrames(parts);
  const auto count = static_cast<uint32_t>(frames.size());
  const std::string& channel = batch[which[0]]->channel;
  for (ClientSession* session : sessions) {
    if (!session->recovering()) {
      shard.outbox.send(*session, joined, drop, count);
      continue;
    }
    for (size_t n = 0; n < frames.size(); ++n) {
      if (!session->holdForRecovery(&channel, *batch[which[n]], frames[n])) {
        shard.outbox.send(*session, frames[n], drop);
      }
    }
  }
}

// Publications i..j-1 of one channel: per set of recipients (those without a filter, each
// filter group) their frames joined once, written once per connection. Returns how many
// (connection, publication) deliveries that made.
uint64_t deliverRun(ShardState& shard, const std::vector<DeliveryPtr>& batch, size_t i, size_t j) {
  auto* subs = shard.channels.find(batch[i]->channel);
  if (subs == nullptr) {
    return 0;
  }
  const bool drop = shard.outbox.dropsOldest(&batch[i]->channel);
  std::vector<size_t> which;
  std::vector<FramePtr> frames;
  which.reserve(j - i);
  frames.reserve(j - i);
  for (size_t k = i; k < j; ++k) {
    which.push_back(k);
    frames.push_back(batch[k]->frame);
  }
  uint64_t deliveries = subs->plain.size() * (j - i);
  sendRun(shard, subs->plain, batch, which, frames, drop);
  for (auto& group : subs->groups) {
    which.clear();
    frames.clear();
    for (size_t k = i; k < j; ++k) {
      if (FramePtr frame = groupFrame(group, *batch[k])) {
        which.push_back(k);
        frames.push_back(std::move(frame));
      }
    }
    deliveries += group.members.size() * frames.size();
    sendRun(shard, group.members, batch, which, frames, drop);
  }
  return deliveries;
}

// For /metrics: publications i..j-1 were just written to this shard's connections, in
// `micros` together (a run shares its time evenly). Publish-to-write compares herald-control's
// wall clock at acceptance with this host's now.
void observe(ShardState& shard, const std::vector<DeliveryPtr>& batch, size_t i, size_t j,
             int64_t micros) {
  const int64_t each = micros / static_cast<int64_t>(j - i);
  const int64_t now = unixMicros();
  for (size_t k = i; k < j; ++k) {
    shard.counters.fanout_duration.observeMicros(each);
    if (batch[k]->accepted_unix_us > 0) {
      shard.counters.publish_to_write.observeMicros(now - batch[k]->accepted_unix_us);
    }
  }
}

// For the stats windows: `n` deliveries of `d`'s kind, under the label ClusterStats uses.
void tally(ShardState& shard, const Delivery& d, uint64_t n) {
  switch (d.target) {
    case herald::v1::DELIVERY_TARGET_CHANNEL:
      shard.deliveries.add(shard.settings->namespaceLabel(namespaceOf(d.channel)), &d.channel, n);
      break;
    case herald::v1::DELIVERY_TARGET_USER:
      shard.deliveries.add(kUserStreamsLabel, nullptr, n);
      break;
    default:
      shard.deliveries.add(kEveryoneLabel, nullptr, n);
      break;
  }
}

}  // namespace

void fanOut(ShardState& shard, const std::vector<DeliveryPtr>& batch) {
  size_t i = 0;
  while (i < batch.size()) {
    size_t j = i + 1;
    if (batch[i]->target == herald::v1::DELIVERY_TARGET_CHANNEL) {
      while (j < batch.size() && batch[j]->target == herald::v1::DELIVERY_TARGET_CHANNEL &&
             batch[j]->channel == batch[i]->channel) {
        ++j;
      }
    }
    const int64_t start = steadyMicros();
    const uint64_t deliveries =
        j - i == 1 ? deliverOne(shard, *batch[i]) : deliverRun(shard, batch, i, j);
    if (deliveries > 0) {
      observe(shard, batch, i, j, steadyMicros() - start);
      tally(shard, *batch[i], deliveries);
    }
    i = j;
  }
}

}  // namespace herald::node
