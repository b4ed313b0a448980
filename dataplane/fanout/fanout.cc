#include "dataplane/fanout/fanout.h"

#include "common/clock.h"
#include "common/namespace_label.h"
#include "dataplane/fanout/group_delivery.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

// One delivery to the sessions it targets: a channel's subscribers, a user's connections,
// or every greeted connection of the shard. Returns how many it reached.
uint64_t deliverOne(ShardState& shard, const DeliveryPtr& shared, int64_t now_ms) {
  const Delivery& d = *shared;
  Outbox& outbox = shard.outbox;
  uint64_t recipients = 0;
  switch (d.target) {
    case herald::v1::DELIVERY_TARGET_CHANNEL:
      if (auto* subs = shard.channels.find(d.channel)) {
        const bool drop = outbox.dropsOldest(&d.channel);
        subs->noteDelivery(d.offset, d.epoch);
        recipients = subs->plain.size();
        sendToSessions(shard, subs->plain, &d.channel, d, d.frame, drop);
        for (auto& group : subs->groups) {
          if (FramePtr frame = groupFrame(shard, d.channel, group, shared, now_ms)) {
            recipients += group.members.size();
            sendToSessions(shard, group.members, &d.channel, d, frame, drop, /*grouped=*/true);
          }
        }
      }
      break;
    case herald::v1::DELIVERY_TARGET_USER: {
      auto it = shard.users.find(d.user);
      if (it != shard.users.end()) {
        recipients = it->second.size();
        sendToSessions(shard, it->second, nullptr, d, d.frame, outbox.dropsOldest(nullptr));
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
             const std::vector<FramePtr>& frames, bool drop, bool grouped = false) {
  if (sessions.empty() || frames.empty()) {
    return;
  }
  const FramePtr joined = frames.size() == 1 ? frames[0] : joinFrames(frames);
  const auto count = static_cast<uint32_t>(frames.size());
  const std::string& channel = batch[which[0]]->channel;
  for (ClientSession* session : sessions) {
    if (!session->recovering() && !(grouped && session->recoveredPast(channel, *batch[which[0]]))) {
      shard.outbox.send(*session, joined, drop, count);
      continue;
    }
    // One by one: a recovering session holds them; one just recovered skips what it has.
    for (size_t n = 0; n < frames.size(); ++n) {
      if (grouped && session->recoveredPast(channel, *batch[which[n]])) {
        continue;
      }
      if (!session->recovering() ||
          !session->holdForRecovery(&channel, *batch[which[n]], frames[n])) {
        shard.outbox.send(*session, frames[n], drop);
      }
    }
  }
}

// Publications i..j-1 of one channel: per set of recipients (those without a filter, each
// filter group) their frames joined once, written once per connection. Returns how many
// (connection, publication) deliveries that made.
uint64_t deliverRun(ShardState& shard, const std::vector<DeliveryPtr>& batch, size_t i, size_t j,
                    int64_t now_ms) {
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
  if (subs->groups.empty()) {
    for (size_t k = i; k < j; ++k) {
      subs->noteDelivery(batch[k]->offset, batch[k]->epoch);
    }
    return deliveries;
  }
  // Publication by publication, so that a jump in offsets reaches each group's next frame.
  std::vector<std::vector<size_t>> group_which(subs->groups.size());
  std::vector<std::vector<FramePtr>> group_frames(subs->groups.size());
  for (size_t k = i; k < j; ++k) {
    subs->noteDelivery(batch[k]->offset, batch[k]->epoch);
    for (size_t g = 0; g < subs->groups.size(); ++g) {
      if (FramePtr frame =
              groupFrame(shard, batch[k]->channel, subs->groups[g], batch[k], now_ms)) {
        group_which[g].push_back(k);
        group_frames[g].push_back(std::move(frame));
      }
    }
  }
  for (size_t g = 0; g < subs->groups.size(); ++g) {
    deliveries += subs->groups[g].members.size() * group_frames[g].size();
    sendRun(shard, subs->groups[g].members, batch, group_which[g], group_frames[g], drop,
            /*grouped=*/true);
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
    const uint64_t deliveries = j - i == 1 ? deliverOne(shard, batch[i], start / 1000)
                                           : deliverRun(shard, batch, i, j, start / 1000);
    if (deliveries > 0) {
      observe(shard, batch, i, j, steadyMicros() - start);
      tally(shard, *batch[i], deliveries);
    }
    i = j;
  }
}

}  // namespace herald::node
