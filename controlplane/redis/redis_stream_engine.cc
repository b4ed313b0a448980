#include "controlplane/redis/redis_stream_engine.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "common/clock.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/stream_keys.h"
#include "controlplane/redis/redis_engine_instance.h"
#include "controlplane/redis/redis_scripts.h"

namespace herald::control {
namespace {

using redis_engine_detail::toU64;
using redis_engine_detail::unexpected;
using namespace redis_scripts;

constexpr size_t kRingPointsPerInstance = 64;

// What a stream stores and publishes; offset and epoch are added by the script's caller.
herald::v1::Publication publicationOf(const std::string& channel, const std::string& event,
                                      const std::string& data, int64_t ts_unix_ms,
                                      int64_t accepted_unix_us,
                                      const PublisherInfo& publisher = {}) {
  herald::v1::Publication pub;
  pub.set_channel(channel);
  pub.set_event(event);
  pub.set_data(data);
  pub.set_ts_unix_ms(ts_unix_ms);
  pub.set_accepted_unix_us(accepted_unix_us);
  pub.set_publisher_user(publisher.user);
  pub.set_publisher_client(publisher.client);
  return pub;
}

herald::v1::Publication publicationOf(const PublishItem& item) {
  herald::v1::Publication pub = publicationOf(item.channel, item.event, item.data, item.ts_unix_ms,
                                              item.accepted_unix_us, item.publisher);
  pub.mutable_tags()->insert(item.tags.begin(), item.tags.end());
  return pub;
}

}  // namespace

RedisStreamEngine::RedisStreamEngine(Options options, const DeliveryRouter& router,
                                     std::function<void(const std::string&)> on_resubscribed)
    : options_(std::move(options)),
      router_(router),
      on_resubscribed_(std::move(on_resubscribed)),
      marker_token_(newRandomEpoch()),
      markers_seen_(options_.instances.size(), 0),
      publish_sha_(redisScriptSha(kPublishScript)),
      read_sha_(redisScriptSha(kReadScript)) {
  for (size_t i = 0; i < options_.instances.size(); ++i) {
    auto instance = std::make_unique<Instance>();
    instance->index = i;
    instance->address = options_.instances[i];
    for (size_t c = 0; c < std::max<size_t>(options_.connections_per_instance, 1); ++c) {
      instance->pool.push_back(
          std::make_unique<RedisConnection>(instance->address, options_.timeout));
    }
    instances_.push_back(std::move(instance));
    // Points depend on the address text only, so every replica builds the same ring.
    for (size_t p = 0; p < kRingPointsPerInstance; ++p) {
      ring_.emplace_back(fnv1a64(options_.instances[i].text + "#" + std::to_string(p)), i);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

RedisStreamEngine::~RedisStreamEngine() { stop(); }

size_t RedisStreamEngine::instanceFor(const std::string& stream_key) const {
  if (ring_.empty()) {
    return 0;
  }
  const uint64_t h = fnv1a64(stream_key);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, size_t{0}));
  return it == ring_.end() ? ring_.front().second : it->second;
}

RedisConnection& RedisStreamEngine::connectionFor(const std::string& key) const {
  return connectionOf(instanceFor(key));
}

RedisConnection& RedisStreamEngine::connectionOf(size_t instance) const {
  const Instance& s = *instances_[instance];
  const uint64_t n = next_connection_.fetch_add(1, std::memory_order_relaxed);
  return *s.pool[n % s.pool.size()];
}

void RedisStreamEngine::start() {
  for (auto& instance : instances_) {
    Instance* s = instance.get();
    s->subscriber = std::thread([this, s] { subscribeLoop(s); });
  }
  gossip_ = std::thread([this] { gossipLoop(); });
}

void RedisStreamEngine::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  for (auto& instance : instances_) {
    {
      std::lock_guard<std::mutex> lock(instance->sub_mu);
      if (instance->sub_context != nullptr) {
        ::shutdown(instance->sub_context->fd, SHUT_RDWR);  // wakes the blocked read
      }
    }
    if (instance->subscriber.joinable()) {
      instance->subscriber.join();
    }
  }
  if (gossip_.joinable()) {
    gossip_.join();
  }
}

std::vector<std::string> RedisStreamEngine::publishArgs(const std::string& key,
                                                        const herald::v1::Publication& pub,
                                                        const HistoryPolicy& policy,
                                                        const std::string& idempotency_key) const {
  const std::string base = kKeyPrefix + key;
  std::string bytes;
  pub.SerializeToString(&bytes);
  return {"2", base + ":m", base + ":h", std::to_string(writesSeen(instanceFor(key))),
          newRandomEpoch(), std::move(bytes), std::to_string(policy.size),
          std::to_string(policy.ttl_ms), newRandomEpoch(), pubsubPrefix(instanceFor(key)) + key,
          // The channel's length first, so that no (channel, key) pair names another's.
          idempotency_key.empty()
              ? ""
              : kIdempotencyPrefix + std::to_string(key.size()) + ":" + key + ":" + idempotency_key,
          std::to_string(options_.idempotency_ttl.count()),
          key[0] == '#' ? std::to_string(kIdleUserStreamMs) : "0"};
}

uint64_t RedisStreamEngine::writesSeen(size_t instance) const {
  return instances_[instance]->writes_seen.load(std::memory_order_relaxed);
}

void RedisStreamEngine::noteWrites(size_t instance, uint64_t writes, bool own) const {
  auto raise = [writes](std::atomic<uint64_t>& value) {
    uint64_t current = value.load(std::memory_order_relaxed);
    while (writes > current && !value.compare_exchange_weak(current, writes)) {
    }
  };
  raise(instances_[instance]->writes_seen);
  if (own) {
    raise(instances_[instance]->writes_own);
  }
}

uint32_t RedisStreamEngine::replicasToWait(size_t instance) const {
  Instance& in = *instances_[instance];
  if (in.address.sentinels.empty()) {
    return 0;
  }
  const int64_t now = steadyMillis();
  if (now - in.role_checked_ms.load(std::memory_order_relaxed) >= 1000) {
    in.role_checked_ms.store(now, std::memory_order_relaxed);
    // ROLE on the primary: ["master", offset, [[ip, port, offset]...]].
    auto role = connectionOf(instance).command({"ROLE"});
    if (role.isOk() && role->type == RedisValue::Type::kArray && role->elements.size() >= 3) {
      in.replicas.store(static_cast<uint32_t>(role->elements[2].elements.size()),
                        std::memory_order_relaxed);
    }
  }
  return in.replicas.load(std::memory_order_relaxed);
}

std::vector<std::string> RedisStreamEngine::waitCommand() const {
  // Half the timeout: Redis answers (0 replicas) before this connection's read times out.
  return {"WAIT", "1", std::to_string(std::max<int64_t>(options_.timeout.count() / 2, 1))};
}

Status RedisStreamEngine::replicated(const RedisConnection::PipelineResult& result) const {
  const RedisValue* wait = result.replies.size() >= 2 ? &result.replies.back() : nullptr;
  if (wait != nullptr && wait->type == RedisValue::Type::kInteger && wait->integer >= 1) {
    return Status::ok();
  }
  return Status(ErrorCode::kUnavailable,
                "published on the Redis primary, but no replica confirmed it in time: a failover "
                "now could lose it (a retry with the same idempotency key is safe)");
}

PublishOutcome RedisStreamEngine::outcomeOf(const RedisValue& v, size_t instance) const {
  PublishOutcome out;
  if (v.type != RedisValue::Type::kArray || v.elements.size() != 4) {
    out.status = unexpected(v, "publish");
    return out;
  }
  noteWrites(instance, static_cast<uint64_t>(v.elements[3].integer), true);
  out.offset = static_cast<uint64_t>(v.elements[0].integer);
  out.epoch = v.elements[1].str;
  out.duplicate = v.elements[2].integer == 1;
  return out;
}

PublishOutcome RedisStreamEngine::append(const std::string& key, const herald::v1::Publication& pub,
                                         const HistoryPolicy& policy,
                                         const std::string& idempotency_key,
                                         const std::function<uint32_t()>& local_nodes) {
  const std::vector<std::string> args = publishArgs(key, pub, policy, idempotency_key);
  const size_t instance = instanceFor(key);
  const bool wait = replicasToWait(instance) > 0;
  auto run = [&](bool by_sha) {
    std::vector<std::vector<std::string>> commands = {
        by_sha ? std::vector<std::string>{"EVALSHA", publish_sha_}
               : std::vector<std::string>{"EVAL", kPublishScript}};
    commands[0].insert(commands[0].end(), args.begin(), args.end());
    if (wait) {
      commands.push_back(waitCommand());
    }
    return connectionOf(instance).pipeline(commands);
  };
  auto result = run(true);
  if (!result.replies.empty() && isNoScript(result.replies[0])) {
    result = run(false);  // not in Redis's cache yet (a restart): EVAL caches it
  }
  if (result.replies.empty()) {
    PublishOutcome out;
    out.status = result.status;
    return out;
  }
  PublishOutcome out = outcomeOf(result.replies[0], instance);
  if (out.status.isOk() && wait) {
    out.status = replicated(result);
  }
  if (out.status.isOk() && !out.duplicate) {
    publications_.fetch_add(1, std::memory_order_relaxed);
  }
  // Delivery happens from the subscription (ours included); report who will get it here.
  if (out.status.isOk()) {
    out.nodes = local_nodes();
  }
  return out;
}

std::vector<PublishOutcome> RedisStreamEngine::publishBatch(const std::vector<PublishItem>& items) {
  std::vector<PublishOutcome> out(items.size());
  std::vector<std::vector<size_t>> by_instance(instances_.size());
  for (size_t i = 0; i < items.size(); ++i) {
    by_instance[instanceFor(items[i].channel)].push_back(i);
  }
  size_t first_failure = items.size();
  for (size_t instance = 0; instance < by_instance.size(); ++instance) {
    const auto& indexes = by_instance[instance];
    if (indexes.empty()) {
      continue;
    }
    // SCRIPT LOAD first (idempotent, and it returns the sha) so that no EVALSHA of the
    // pipeline meets an empty script cache (a Redis that restarted): all run or none.
    std::vector<std::vector<std::string>> commands;
    commands.reserve(indexes.size() + 1);
    commands.push_back({"SCRIPT", "LOAD", kPublishScript});
    for (size_t i : indexes) {
      std::vector<std::string> args = publishArgs(items[i].channel, publicationOf(items[i]),
                                                  items[i].history, items[i].idempotency_key);
      args.insert(args.begin(), {"EVALSHA", publish_sha_});
      commands.push_back(std::move(args));
    }
    const bool wait = replicasToWait(instance) > 0;
    if (wait) {
      commands.push_back(waitCommand());  // one wait for the whole batch
    }
    auto result = connectionOf(instance).pipeline(commands);
    // Without every reply (the WAIT's included) nothing says a replica has them.
    const Status replication = !wait ? Status::ok()
                               : result.replies.size() == commands.size()
                                   ? replicated(result)
                                   : Status(ErrorCode::kUnavailable, "redis: no answer to WAIT");
    for (size_t k = 0; k < indexes.size(); ++k) {
      PublishOutcome& o = out[indexes[k]];
      if (k + 1 < result.replies.size()) {
        o = outcomeOf(result.replies[k + 1], instance);
        if (o.status.isOk() && !replication.isOk()) {
          o.status = replication;
        }
      } else {
        o.status = result.status.isOk() ? Status(ErrorCode::kUnavailable, "redis: reply missing")
                                        : result.status;
      }
      if (o.status.isOk()) {
        if (!o.duplicate) {
          publications_.fetch_add(1, std::memory_order_relaxed);
        }
        o.nodes = router_.nodesForChannel(items[indexes[k]].channel);
      } else {
        first_failure = std::min(first_failure, indexes[k]);
      }
    }
  }
  if (first_failure < items.size()) {
    out.resize(first_failure + 1);
  }
  return out;
}

PublishOutcome RedisStreamEngine::publish(const PublishItem& item) {
  return append(item.channel, publicationOf(item), item.history, item.idempotency_key,
                [&] { return router_.nodesForChannel(item.channel); });
}

PublishOutcome RedisStreamEngine::sendToUser(const UserPublishItem& item) {
  // Personal publications carry no channel: the stream key says whose they are.
  return append(userStreamKey(item.user),
                publicationOf("", item.event, item.data, item.ts_unix_ms, item.accepted_unix_us),
                item.history, "", [&] { return router_.forUser(item.user, [](NodeSink&) {}); });
}

HistoryResult RedisStreamEngine::read(const std::string& key, const HistoryQuery& query) const {
  HistoryResult result;
  const std::string base = kKeyPrefix + key;
  // Pages of at most 256 entries, so that a limit of thousands of large publications does
  // not make Redis build one huge reply: reading stops at max_bytes like the memory engine's.
  constexpr uint32_t kPage = 256;
  const uint32_t wanted = query.limit == 0 ? UINT32_MAX : query.limit;
  auto fetch = [&](uint64_t after, uint32_t count) -> Result<RedisValue> {
    std::vector<std::string> args = {"EVALSHA",
                                     read_sha_,
                                     "2",
                                     base + ":m",
                                     base + ":h",
                                     std::to_string(writesSeen(instanceFor(key))),
                                     newRandomEpoch(),
                                     std::to_string(after + 1) + "-0",
                                     std::to_string(count)};
    auto reply = connectionFor(key).command(args);
    if (reply.isOk() && isNoScript(reply.value())) {
      args[0] = "EVAL";
      args[1] = kReadScript;  // not in Redis's cache yet: EVAL caches it
      reply = connectionFor(key).command(args);
    }
    if (reply.isOk() && (reply->type != RedisValue::Type::kArray || reply->elements.size() != 4)) {
      return unexpected(reply.value(), "history");
    }
    return reply;
  };
  auto reply = fetch(query.since, std::min(wanted, kPage));
  if (!reply.isOk()) {
    result.status = reply.status();
    return result;
  }
  result.offset = toU64(reply->elements[0].str);
  result.epoch = reply->elements[1].str;
  if (result.epoch.empty()) {
    // Never published (or lost): nothing was missed, unless the position is from elsewhere.
    result.recovered = query.epoch.empty() && query.since == 0;
    return result;
  }
  const bool same_epoch = query.epoch.empty() || query.epoch == result.epoch;
  uint64_t since = query.since;
  if (!same_epoch && query.since > 0) {
    // A position from another epoch says nothing about this one: read from the start.
    since = 0;
    reply = fetch(0, std::min(wanted, kPage));
    if (!reply.isOk()) {
      result.status = reply.status();
      return result;
    }
    result.offset = toU64(reply->elements[0].str);
  }
  const int64_t ttl_ms = static_cast<int64_t>(toU64(reply->elements[2].str));
  const int64_t oldest_ms = ttl_ms > 0 ? unixMillis() - ttl_ms : INT64_MIN;
  size_t bytes = 0;
  uint64_t expected = since + 1;
  uint64_t last_read = since;
  bool contiguous = true;
  bool full = false;  // max_bytes or the limit reached
  for (;;) {
    const auto& entries = reply->elements[3].elements;
    for (const RedisValue& entry : entries) {
      if (entry.elements.size() != 2 || entry.elements[1].elements.size() != 2) {
        continue;
      }
      last_read = toU64(entry.elements[0].str);  // "OFFSET-1": strtoull stops at '-'
      auto pub = std::make_shared<herald::v1::Publication>();
      if (!pub->ParseFromString(entry.elements[1].elements[1].str)) {
        continue;
      }
      pub->set_offset(last_read);
      pub->set_epoch(result.epoch);
      if (pub->ts_unix_ms() < oldest_ms) {
        continue;  // past its TTL (the key expires as a whole; single entries are skipped here)
      }
      if (pub->offset() != expected) {
        contiguous = false;
      }
      expected = pub->offset() + 1;
      bytes += publicationBytes(*pub);
      if (query.max_bytes > 0 && bytes > query.max_bytes && !result.publications.empty()) {
        full = true;
        break;
      }
      result.publications.push_back(std::move(pub));
      if (result.publications.size() >= wanted) {
        full = true;
        break;
      }
    }
    if (full || entries.size() < kPage) {
      break;
    }
    reply = fetch(last_read, std::min<uint32_t>(wanted - result.publications.size(), kPage));
    if (!reply.isOk()) {
      result.status = reply.status();
      result.publications.clear();
      return result;
    }
    if (reply->elements[1].str != result.epoch) {
      break;  // the stream started over meanwhile: keep what was read in the old epoch
    }
  }
  if (since >= result.offset) {
    result.recovered = same_epoch && since == result.offset;
  } else {
    result.recovered = same_epoch && contiguous && !result.publications.empty() &&
                       result.publications.front()->offset() == since + 1;
  }
  return result;
}

HistoryResult RedisStreamEngine::history(const std::string& channel, const HistoryQuery& query,
                                         int64_t) const {
  return read(channel, query);
}

HistoryResult RedisStreamEngine::userHistory(const std::string& user, const HistoryQuery& query,
                                             int64_t) const {
  return read(userStreamKey(user), query);
}

Result<std::map<std::string, StreamEngine::ChannelState>> RedisStreamEngine::list() const {
  std::map<std::string, ChannelState> out;
  const std::string prefix = kKeyPrefix;
  for (const auto& instance : instances_) {
    RedisConnection& conn = *instance->pool.front();
    std::string cursor = "0";
    // Admin listing: bounded so a huge keyspace cannot stall the call.
    for (int round = 0; round < 1000; ++round) {
      auto reply = conn.command({"SCAN", cursor, "MATCH", prefix + "*:m", "COUNT", "1000"});
      if (!reply.isOk()) {
        return reply.status();
      }
      const RedisValue& v = reply.value();
      if (v.type != RedisValue::Type::kArray || v.elements.size() != 2) {
        return unexpected(v, "list");
      }
      for (const RedisValue& k : v.elements[1].elements) {
        const std::string name = k.str.substr(prefix.size(), k.str.size() - prefix.size() - 2);
        if (name.empty() || name[0] == '#') {
          continue;  // personal streams are not channels
        }
        const std::string base = prefix + name;
        auto meta = conn.command({"HMGET", base + ":m", "offset", "epoch"});
        auto len = conn.command({"XLEN", base + ":h"});
        if (!meta.isOk() || !len.isOk()) {
          return !meta.isOk() ? meta.status() : len.status();
        }
        ChannelState state;
        if (meta.value().elements.size() == 2) {
          state.offset = toU64(meta.value().elements[0].str);
          state.epoch = meta.value().elements[1].str;
        }
        state.history = static_cast<uint64_t>(std::max<long long>(len.value().integer, 0));
        out[name] = state;
      }
      cursor = v.elements[0].str;
      if (cursor == "0") {
        break;
      }
    }
    // Channels some replica's nodes want (per-channel routing subscribes to exactly those), so
    // that every replica lists a channel never published to but subscribed through another.
    const std::string pubsub = pubsubPrefix(instance->index);
    auto active = conn.command({"PUBSUB", "CHANNELS", pubsub + "*"});
    if (!active.isOk()) {
      return active.status();
    }
    for (const RedisValue& c : active.value().elements) {
      if (c.str.size() > pubsub.size() && c.str[pubsub.size()] != '#' &&
          c.str[pubsub.size()] != '!' && c.str.compare(0, pubsub.size(), pubsub) == 0) {
        out.emplace(c.str.substr(pubsub.size()), ChannelState{});
      }
    }
  }
  return out;
}

}  // namespace herald::control
