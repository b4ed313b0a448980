#include "controlplane/redis/redis_stream_engine.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>

#include "common/logging.h"

namespace herald::control {
namespace {

constexpr size_t kRingPointsPerShard = 64;

// Next offset, history and PUBLISH in one step (see the class comment). A stream whose epoch
// is missing (new, or lost by Redis) gets the caller's fresh epoch and loses any stale history.
constexpr const char* kPublishScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[4]
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
if ARGV[6] ~= '' then
  local prev = redis.call('GET', ARGV[6])
  if prev then return {tonumber(prev), epoch, 1} end
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local size = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'ttl', ttl)
if ARGV[8] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[8]) end
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-1', 'p', ARGV[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  else
    redis.call('PERSIST', KEYS[2])
  end
else
  redis.call('DEL', KEYS[2])
end
if ARGV[6] ~= '' then redis.call('SET', ARGV[6], offset, 'EX', ARGV[7]) end
redis.call('PUBLISH', ARGV[5], offset .. ':' .. epoch .. ':' .. ARGV[1])
return {offset, epoch, 0}
)lua";

// The stream's offset, epoch and TTL with up to ARGV[2] entries from id ARGV[1], read
// together so that the entries and the offset agree.
constexpr const char* kReadScript = R"lua(
local meta = redis.call('HMGET', KEYS[1], 'offset', 'epoch', 'ttl')
local entries = {}
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
end
return {meta[1] or '0', meta[2] or '', meta[3] or '0', entries}
)lua";

constexpr const char* kKeyPrefix = "herald:s:";
constexpr const char* kIdempotencyPrefix = "herald:i:";
// A personal stream nobody sent to for a day is forgotten (as by the memory engine).
constexpr int64_t kIdleUserStreamMs = 24 * 3600 * 1000;

std::string userKey(const std::string& user) { return "#" + user; }

int64_t unixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string randomEpoch() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

Status unexpected(const RedisValue& v, const char* what) {
  if (v.type == RedisValue::Type::kError) {
    return Status(ErrorCode::kUnavailable, std::string(what) + ": redis error: " + v.str);
  }
  return Status(ErrorCode::kInternal, std::string(what) + ": unexpected reply from redis");
}

// What a stream stores and publishes; offset and epoch are added by the script's caller.
herald::v1::Publication publicationOf(const std::string& channel, const std::string& event,
                                      const std::string& data, int64_t ts_unix_ms,
                                      const PublisherInfo& publisher = {}) {
  herald::v1::Publication pub;
  pub.set_channel(channel);
  pub.set_event(event);
  pub.set_data(data);
  pub.set_ts_unix_ms(ts_unix_ms);
  pub.set_publisher_user(publisher.user);
  pub.set_publisher_client(publisher.client);
  return pub;
}

uint64_t toU64(const std::string& text) {
  return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

}  // namespace

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // FNV-1a leaves names that differ in their last bytes close together in the high bits
  // (feed:s1, feed:s2, ...); murmur3's finaliser spreads them over the whole ring.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

struct RedisStreamEngine::Shard {
  size_t index = 0;
  std::atomic<bool> subscribed{false};  // a marker can only come back while subscribed
  RedisAddress address;
  std::vector<std::unique_ptr<RedisConnection>> pool;
  std::thread subscriber;
  std::mutex sub_mu;
  redisContext* sub_context = nullptr;  // under sub_mu, for stop() to unblock the reader
};

RedisStreamEngine::RedisStreamEngine(Options options, const Router& router,
                                     std::function<void(const std::string&)> on_resubscribed)
    : options_(std::move(options)),
      router_(router),
      on_resubscribed_(std::move(on_resubscribed)),
      marker_token_(randomEpoch()),
      markers_seen_(options_.shards.size(), 0) {
  for (size_t i = 0; i < options_.shards.size(); ++i) {
    auto shard = std::make_unique<Shard>();
    shard->index = i;
    shard->address = options_.shards[i];
    for (size_t c = 0; c < std::max<size_t>(options_.connections_per_shard, 1); ++c) {
      shard->pool.push_back(std::make_unique<RedisConnection>(shard->address, options_.timeout));
    }
    shards_.push_back(std::move(shard));
    // Points depend on the address text only, so every replica builds the same ring.
    for (size_t p = 0; p < kRingPointsPerShard; ++p) {
      ring_.emplace_back(fnv1a64(options_.shards[i].text + "#" + std::to_string(p)), i);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

RedisStreamEngine::~RedisStreamEngine() { stop(); }

size_t RedisStreamEngine::shardFor(const std::string& stream_key) const {
  if (ring_.empty()) {
    return 0;
  }
  const uint64_t h = fnv1a64(stream_key);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, size_t{0}));
  return it == ring_.end() ? ring_.front().second : it->second;
}

RedisConnection& RedisStreamEngine::connectionFor(const std::string& key) const {
  return connectionOf(shardFor(key));
}

RedisConnection& RedisStreamEngine::connectionOf(size_t shard) const {
  const Shard& s = *shards_[shard];
  const uint64_t n = next_connection_.fetch_add(1, std::memory_order_relaxed);
  return *s.pool[n % s.pool.size()];
}

void RedisStreamEngine::start() {
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->subscriber = std::thread([this, s] { subscribeLoop(s); });
  }
}

void RedisStreamEngine::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  for (auto& shard : shards_) {
    {
      std::lock_guard<std::mutex> lock(shard->sub_mu);
      if (shard->sub_context != nullptr) {
        ::shutdown(shard->sub_context->fd, SHUT_RDWR);  // wakes the blocked read
      }
    }
    if (shard->subscriber.joinable()) {
      shard->subscriber.join();
    }
  }
}

std::vector<std::string> RedisStreamEngine::publishArgs(const std::string& key,
                                                        const herald::v1::Publication& pub,
                                                        const HistoryPolicy& policy,
                                                        const std::string& idempotency_key) const {
  const std::string base = kKeyPrefix + key;
  std::string bytes;
  pub.SerializeToString(&bytes);
  return {"2", base + ":m", base + ":h", std::move(bytes), std::to_string(policy.size),
          std::to_string(policy.ttl_ms), randomEpoch(), pubsubPrefix(shardFor(key)) + key,
          // The channel's length first, so that no (channel, key) pair names another's.
          idempotency_key.empty()
              ? ""
              : kIdempotencyPrefix + std::to_string(key.size()) + ":" + key + ":" + idempotency_key,
          std::to_string(options_.idempotency_ttl.count()),
          key[0] == '#' ? std::to_string(kIdleUserStreamMs) : "0"};
}

PublishOutcome RedisStreamEngine::outcomeOf(const RedisValue& v) const {
  PublishOutcome out;
  if (v.type != RedisValue::Type::kArray || v.elements.size() != 3) {
    out.status = unexpected(v, "publish");
    return out;
  }
  out.offset = static_cast<uint64_t>(v.elements[0].integer);
  out.epoch = v.elements[1].str;
  out.duplicate = v.elements[2].integer == 1;
  return out;
}

PublishOutcome RedisStreamEngine::append(const std::string& key, const herald::v1::Publication& pub,
                                         const HistoryPolicy& policy,
                                         const std::string& idempotency_key,
                                         const std::function<uint32_t()>& local_nodes) {
  std::vector<std::string> args = publishArgs(key, pub, policy, idempotency_key);
  args.insert(args.begin(), {"EVAL", kPublishScript});
  auto reply = connectionFor(key).command(args);
  if (!reply.isOk()) {
    PublishOutcome out;
    out.status = reply.status();
    return out;
  }
  PublishOutcome out = outcomeOf(reply.value());
  if (out.status.isOk() && !out.duplicate) {
    publications_.fetch_add(1, std::memory_order_relaxed);
  }
  // Delivery happens from the subscription (ours included); report who will get it here.
  if (out.status.isOk()) {
    out.nodes = local_nodes();
  }
  return out;
}

std::vector<PublishOutcome> RedisStreamEngine::publishBatch(const std::vector<PublishItem>& items,
                                                            const Router&) {
  std::vector<PublishOutcome> out(items.size());
  std::vector<std::vector<size_t>> by_shard(shards_.size());
  for (size_t i = 0; i < items.size(); ++i) {
    by_shard[shardFor(items[i].channel)].push_back(i);
  }
  size_t first_failure = items.size();
  for (size_t shard = 0; shard < by_shard.size(); ++shard) {
    const auto& indexes = by_shard[shard];
    if (indexes.empty()) {
      continue;
    }
    // SCRIPT LOAD first (idempotent, and it returns the sha) so that no EVALSHA of the
    // pipeline meets an empty script cache (a Redis that restarted): all run or none.
    std::vector<std::vector<std::string>> commands;
    commands.reserve(indexes.size() + 1);
    commands.push_back({"SCRIPT", "LOAD", kPublishScript});
    std::string sha;
    {
      std::lock_guard<std::mutex> lock(sha_mu_);
      sha = publish_sha_;
    }
    for (size_t i : indexes) {
      std::vector<std::string> args =
          publishArgs(items[i].channel,
                      publicationOf(items[i].channel, items[i].event, items[i].data,
                                    items[i].ts_unix_ms, items[i].publisher),
                      items[i].history, items[i].idempotency_key);
      if (sha.empty()) {
        args.insert(args.begin(), {"EVAL", kPublishScript});
      } else {
        args.insert(args.begin(), {"EVALSHA", sha});
      }
      commands.push_back(std::move(args));
    }
    auto result = connectionOf(shard).pipeline(commands);
    if (sha.empty() && !result.replies.empty() &&
        result.replies[0].type == RedisValue::Type::kString) {
      std::lock_guard<std::mutex> lock(sha_mu_);
      publish_sha_ = result.replies[0].str;
    }
    for (size_t k = 0; k < indexes.size(); ++k) {
      PublishOutcome& o = out[indexes[k]];
      if (k + 1 < result.replies.size()) {
        o = outcomeOf(result.replies[k + 1]);
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

PublishOutcome RedisStreamEngine::publish(const std::string& channel, const std::string& event,
                                          const std::string& data,
                                          const std::string& idempotency_key, int64_t ts_unix_ms,
                                          const HistoryPolicy& history, const Router&,
                                          const PublisherInfo& publisher) {
  return append(channel, publicationOf(channel, event, data, ts_unix_ms, publisher), history,
                idempotency_key, [&] { return router_.nodesForChannel(channel); });
}

PublishOutcome RedisStreamEngine::sendToUser(const std::string& user, const std::string& event,
                                             const std::string& data, int64_t ts_unix_ms,
                                             const HistoryPolicy& history, const Router&) {
  // Personal publications carry no channel: the stream key says whose they are.
  return append(userKey(user), publicationOf("", event, data, ts_unix_ms), history, "",
                [&] { return router_.forUser(user, [](NodeSink&) {}); });
}

HistoryResult RedisStreamEngine::read(const std::string& key, const HistoryQuery& query) const {
  HistoryResult result;
  const std::string base = kKeyPrefix + key;
  // Pages of at most 256 entries, so that a limit of thousands of large publications does
  // not make Redis build one huge reply: reading stops at max_bytes like the memory engine's.
  constexpr uint32_t kPage = 256;
  const uint32_t wanted = query.limit == 0 ? UINT32_MAX : query.limit;
  auto fetch = [&](uint64_t after, uint32_t count) -> Result<RedisValue> {
    auto reply =
        connectionFor(key).command({"EVAL", kReadScript, "2", base + ":m", base + ":h",
                                    std::to_string(after + 1) + "-0", std::to_string(count)});
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
  const int64_t oldest_ms = ttl_ms > 0 ? unixMillisNow() - ttl_ms : INT64_MIN;
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
      bytes += pub->data().size() + pub->event().size();
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
  return read(userKey(user), query);
}

Result<std::map<std::string, StreamEngine::ChannelState>> RedisStreamEngine::list() const {
  std::map<std::string, ChannelState> out;
  const std::string prefix = kKeyPrefix;
  for (const auto& shard : shards_) {
    RedisConnection& conn = *shard->pool.front();
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
  }
  return out;
}

std::string RedisStreamEngine::pubsubPrefix(size_t shard) const {
  return "herald:p:" + std::to_string(options_.shards[shard].db) + ":";
}

void RedisStreamEngine::awaitRouted(const std::string& name, bool user_stream,
                                    std::chrono::milliseconds max) const {
  const std::string key = user_stream ? userKey(name) : name;
  const size_t shard = shardFor(key);
  if (!shards_[shard]->subscribed.load()) {
    // Nothing is routed now; when the subscription returns, the nodes resync anyway.
    return;
  }
  const uint64_t marker = next_marker_.fetch_add(1) + 1;
  // Channel names cannot start with '!', so a marker never meets a real stream.
  auto reply = connectionFor(key).command(
      {"PUBLISH", pubsubPrefix(shard) + "!sync:" + marker_token_ + ":" + std::to_string(marker),
       ""});
  if (!reply.isOk()) {
    return;  // the history read before it would have failed too
  }
  std::unique_lock<std::mutex> lock(marker_mu_);
  marker_cv_.wait_for(lock, max, [&] { return markers_seen_[shard] >= marker; });
}

void RedisStreamEngine::onPublication(size_t shard, const std::string& redis_channel,
                                      const std::string& payload) {
  // "herald:p:<db>:<stream>"
  const size_t prefix_end = redis_channel.find(':', std::string("herald:p:").size());
  if (prefix_end == std::string::npos) {
    return;
  }
  const std::string key = redis_channel.substr(prefix_end + 1);
  if (key.compare(0, 6, "!sync:") == 0) {
    // A marker of awaitRouted(): everything this instance published before it is routed.
    const std::string ours = "!sync:" + marker_token_ + ":";
    if (key.compare(0, ours.size(), ours) == 0) {
      const uint64_t marker = toU64(key.substr(ours.size()));
      {
        std::lock_guard<std::mutex> lock(marker_mu_);
        markers_seen_[shard] = std::max(markers_seen_[shard], marker);
      }
      marker_cv_.notify_all();
    }
    return;
  }
  const size_t colon1 = payload.find(':');
  const size_t colon2 = colon1 == std::string::npos ? colon1 : payload.find(':', colon1 + 1);
  if (key.empty() || colon2 == std::string::npos) {
    return;
  }
  auto message = std::make_shared<herald::v1::ControlMessage>();
  auto* deliver = message->mutable_deliver();
  auto* pub = deliver->mutable_publication();
  if (!pub->ParseFromArray(payload.data() + colon2 + 1,
                           static_cast<int>(payload.size() - colon2 - 1))) {
    return;
  }
  pub->set_offset(toU64(payload.substr(0, colon1)));
  pub->set_epoch(payload.substr(colon1 + 1, colon2 - colon1 - 1));
  ControlMessagePtr shared = message;
  if (key[0] == '#') {
    deliver->set_target(herald::v1::DELIVERY_TARGET_USER);
    deliver->set_user(key.substr(1));
    router_.forUser(key.substr(1), [&](NodeSink& node) { node.send(shared); });
  } else {
    deliver->set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
    router_.forChannel(key, [&](NodeSink& node) { node.send(shared); });
  }
}

void RedisStreamEngine::subscribeLoop(Shard* shard) {
  auto log = componentLogger("redis");
  bool had_subscription = false;
  int attempt = 0;
  std::mt19937 rng{std::random_device{}()};
  while (!stopping_.load()) {
    const timeval tv = toTimeval(options_.timeout);
    redisContext* ctx =
        redisConnectWithTimeout(shard->address.host.c_str(), shard->address.port, tv);
    bool subscribed = false;
    if (ctx != nullptr && ctx->err == 0) {
      redisEnableKeepAlive(ctx);
      // hiredis times out the connect only: bound the PSUBSCRIBE reply too (a stopped Redis
      // that still accepts connections would otherwise hold stop() forever).
      redisSetTimeout(ctx, tv);
      const std::string pattern = pubsubPrefix(shard->index) + "*";
      RedisReplyPtr reply(static_cast<redisReply*>(
          redisCommand(ctx, "PSUBSCRIBE %b", pattern.data(), pattern.size())));
      subscribed = reply != nullptr && reply->type == REDIS_REPLY_ARRAY;
    }
    if (!subscribed) {
      if (ctx != nullptr) {
        redisFree(ctx);
      }
      // Exponential backoff with jitter, 100 ms .. 2 s; checked often enough to stop quickly.
      const int ceiling = std::min(2000, 100 << std::min(attempt++, 5));
      const int wait_ms = ceiling / 2 + static_cast<int>(rng() % (ceiling / 2 + 1));
      if (attempt == 1 || attempt % 10 == 0) {
        log->warn("redis {} unreachable for subscriptions; retrying (attempt {})",
                  shard->address.text, attempt);
      }
      for (int waited = 0; waited < wait_ms && !stopping_.load(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(shard->sub_mu);
      shard->sub_context = ctx;
    }
    shard->subscribed = true;
    if (stopping_.load()) {
      // stop() may have looked before the context was published: do not block in a read.
      std::lock_guard<std::mutex> lock(shard->sub_mu);
      redisFree(ctx);
      shard->sub_context = nullptr;
      break;
    }
    if (had_subscription) {
      log->warn("redis {} subscription restored after a break", shard->address.text);
    } else {
      log->info("subscribed to publications on redis {}", shard->address.text);
    }
    // Nodes linked while there was no subscription (a break, or a late first one) missed
    // publications: they reconnect and resync from history. With none linked, a no-op.
    if (on_resubscribed_) {
      on_resubscribed_(shard->address.text);
    }
    had_subscription = true;
    attempt = 0;
    // Blocking reads (no timeout: a timed-out hiredis context is unusable); stop() shuts the
    // socket down, and keepalive notices a silent peer.
    redisSetTimeout(ctx, timeval{});
    for (;;) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
        break;
      }
      RedisReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 4 &&
          reply->element[2]->type == REDIS_REPLY_STRING &&
          reply->element[3]->type == REDIS_REPLY_STRING) {
        onPublication(shard->index, std::string(reply->element[2]->str, reply->element[2]->len),
                      std::string(reply->element[3]->str, reply->element[3]->len));
      }
    }
    shard->subscribed = false;
    {
      std::lock_guard<std::mutex> lock(shard->sub_mu);
      shard->sub_context = nullptr;
      redisFree(ctx);
    }
    if (!stopping_.load()) {
      log->warn("redis {} subscription lost; reconnecting", shard->address.text);
    }
  }
}

}  // namespace herald::control
