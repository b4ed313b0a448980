#include "dataplane/fanout/fanout.h"

#include "common/clock.h"
#include "common/namespace_label.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/shard_state.h"

namespace herald::node {

namespace {

// One delivery to the sessions it targets: a channel's subscribers, a user's connections,
// or every greeted connection of the shard. Returns how many it had.
uint64_t deliverOne(ShardState& shard, const Delivery& d) {
  Outbox& outbox = shard.outbox;
  uint64_t recipients = 0;
  switch (d.target) {
    case herald::v1::DELIVERY_TARGET_CHANNEL:
      if (const auto* subs = shard.channels.find(d.channel)) {
        recipients = subs->size();
        const bool drop = outbox.dropsOldest(&d.channel);
        for (ClientSession* session : *subs) {
          if (!session->recovering() || !session->holdForRecovery(&d.channel, d)) {
            outbox.send(*session, d.frame, drop);
          }
        }
      }
      break;
    case herald::v1::DELIVERY_TARGET_USER: {
      auto it = shard.users.find(d.user);
      if (it != shard.users.end()) {
        recipients = it->second.size();
        const bool drop = outbox.dropsOldest(nullptr);
        for (ClientSession* session : it->second) {
          if (!session->recovering() || !session->holdForRecovery(nullptr, d)) {
            outbox.send(*session, d.frame, drop);
          }
        }
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

// Publications i..j-1 of one channel: their frames joined once, written once per connection.
// Returns to how many connections.
uint64_t deliverRun(ShardState& shard, const std::vector<DeliveryPtr>& batch, size_t i, size_t j) {
  const std::string& channel = batch[i]->channel;
  const auto* subs = shard.channels.find(channel);
  if (subs == nullptr) {
    return 0;
  }
  std::vector<const PreparedFrame*> frames;
  frames.reserve(j - i);
  for (size_t k = i; k < j; ++k) {
    frames.push_back(batch[k]->frame.get());
  }
  const FramePtr joined = joinFrames(frames);
  Outbox& outbox = shard.outbox;
  const bool drop = outbox.dropsOldest(&channel);
  const auto count = static_cast<uint32_t>(j - i);
  for (ClientSession* session : *subs) {
    if (!session->recovering()) {
      outbox.send(*session, joined, drop, count);
      continue;
    }
    for (size_t k = i; k < j; ++k) {  // a recovering session holds them one by one
      if (!session->holdForRecovery(&channel, *batch[k])) {
        outbox.send(*session, batch[k]->frame, drop);
      }
    }
  }
  return subs->size();
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
    const uint64_t recipients =
        j - i == 1 ? deliverOne(shard, *batch[i]) : deliverRun(shard, batch, i, j);
    if (recipients > 0) {
      observe(shard, batch, i, j, steadyMicros() - start);
      tally(shard, *batch[i], recipients * (j - i));
    }
    i = j;
  }
}

}  // namespace herald::node
