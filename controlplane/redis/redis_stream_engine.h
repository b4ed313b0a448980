#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/delivery_router.h"
#include "controlplane/interest_listener.h"
#include "controlplane/peer_channel.h"
#include "controlplane/redis/redis_client.h"
#include "controlplane/stream_engine.h"

struct redisContext;

namespace herald::control {

/**
 * The `redis` stream engine: offsets, epochs and history in Redis, shared by every
 * control-plane replica. A Lua script assigns the next offset (HINCRBY), appends to the
 * stream's history (a Redis stream with ids OFFSET-1, trimmed to history_size, expiring after
 * the TTL) and PUBLISHes the publication, atomically, so two replicas never hand out the same
 * offset and the pub/sub order of a channel is its offset order. Every replica (the publishing
 * one too) delivers to its own nodes from its pub/sub subscription, so each publication
 * reaches every interested node once, in order.
 *
 * Channels are spread over the given Redis instances by consistent hashing of the stream name
 * (64 points per instance on a ring of FNV-1a hashes with murmur3's finaliser, the same on
 * every replica). A missing
 * epoch (a flushed or restarted Redis without persistence) starts a new one, so clients are
 * told their position cannot be recovered instead of getting a silent gap.
 *
 * Per-channel routing: a replica subscribes (SUBSCRIBE, one pub/sub channel per stream) only
 * to the streams its nodes want, as the Router tells it (InterestListener), so that adding
 * replicas does not multiply what Redis sends; joins and leaves travel on their channel's
 * pub/sub channel, and awaitRouted()'s markers on one channel per replica.
 *
 * Threads: publish and read calls come from any gRPC thread and use a pooled connection of
 * the stream's instance; one subscriber thread per instance (redis_stream_subscriber.cc)
 * routes what it receives; awaitRouted() waits on markers those threads report.
 */
class RedisStreamEngine : public StreamEngine, public InterestListener, public PeerChannel {
 public:
  struct Options {
    std::vector<RedisAddress> instances;
    std::chrono::milliseconds timeout{1000};  // connect and command timeout
    size_t connections_per_instance = 4;
    std::chrono::seconds idempotency_ttl{3600};
  };
  // `router` receives every publication from the subscriptions. `on_resubscribed` is called
  // after a subscription came back from a break (publications may have been missed meanwhile).
  RedisStreamEngine(Options options, const DeliveryRouter& router,
                    std::function<void(const std::string& instance)> on_resubscribed);
  ~RedisStreamEngine() override;

  // Starts one subscriber thread per instance.
  void start();
  void stop();

  PublishOutcome publish(const PublishItem& item) override;
  // One pipeline per Redis instance: a batch of 1,000 costs a few round trips, not 1,000.
  std::vector<PublishOutcome> publishBatch(const std::vector<PublishItem>& items) override;
  PublishOutcome sendToUser(const UserPublishItem& item) override;
  // PUBLISHed beside the channels' publications (`!jl:` keys), to every replica's subscriber:
  // one pipeline per instance.
  Status relayJoinLeave(const std::vector<herald::v1::JoinLeave>& changes) override;
  HistoryResult history(const std::string& channel, const HistoryQuery& query,
                        int64_t now_ms) const override;
  HistoryResult userHistory(const std::string& user, const HistoryQuery& query,
                            int64_t now_ms) const override;
  // Waits until Redis confirmed this replica's subscription to the stream (when a node wants it).
  bool awaitSubscribed(const std::string& name, bool user_stream,
                       std::chrono::milliseconds max) const override;
  // Publishes a marker on the stream's instance and waits until our subscription sees it: by
  // then every earlier publication of that instance has been routed to our nodes.
  void awaitRouted(const std::string& name, bool user_stream,
                   std::chrono::milliseconds max) const override;
  // Redis trims and expires history itself.
  size_t expire(int64_t) override { return 0; }
  Result<std::map<std::string, ChannelState>> list() const override;
  uint64_t publications() const override { return publications_.load(); }

  // Which instance (index into Options::instances) holds a stream; exposed for tests and docs.
  size_t instanceFor(const std::string& stream_key) const;

  // InterestListener (the Router, under its lock): queues a SUBSCRIBE or UNSUBSCRIBE for the
  // stream's subscriber thread.
  void interestChanged(const std::string& stream_key, bool wanted) override;

  // PeerChannel: the pub/sub channel "!peer:<id>" on the instance that id hashes to.
  void listen(const std::string& self, Handler handler) override;
  Result<uint64_t> send(const std::string& to, const std::string& payload) override;

  // For /metrics: what the subscriptions received, and the streams subscribed now.
  struct PubSubStats {
    uint64_t messages = 0;
    uint64_t bytes = 0;  // channel names and payloads
    uint64_t streams = 0;
    std::vector<std::pair<std::string, uint64_t>> writes_seen;  // per instance address
  };
  PubSubStats pubsubStats() const;

 private:
  struct Instance;

  PublishOutcome append(const std::string& key, const herald::v1::Publication& pub,
                        const HistoryPolicy& policy, const std::string& idempotency_key,
                        const std::function<uint32_t()>& local_nodes);
  HistoryResult read(const std::string& key, const HistoryQuery& query) const;
  std::vector<std::string> publishArgs(const std::string& key, const herald::v1::Publication& pub,
                                       const HistoryPolicy& policy,
                                       const std::string& idempotency_key) const;
  PublishOutcome outcomeOf(const RedisValue& reply, size_t instance) const;
  // The highest acknowledged-write count seen from an instance, and raising it.
  uint64_t writesSeen(size_t instance) const;
  // With Sentinel: the primary's replicas (ROLE, read at most once a second). A publication
  // is acknowledged once one of them has it (WAIT), so that a failover cannot lose it; with
  // none (after a failover took the only one) publications go on unreplicated.
  uint32_t replicasToWait(size_t instance) const;
  std::vector<std::string> waitCommand() const;
  Status replicated(const RedisConnection::PipelineResult& result) const;
  // `own`: the count came back from our own publication (gossiped to the other replicas).
  void noteWrites(size_t instance, uint64_t writes, bool own = false) const;
  // Every 10 ms, tells the other replicas (pub/sub channel "!w") the highest write count our
  // own publications got, so that each knows what Redis acknowledged even for streams no node
  // of its own wants (per-channel routing keeps those publications away from it).
  void gossipLoop();
  RedisConnection& connectionFor(const std::string& key) const;
  RedisConnection& connectionOf(size_t instance) const;
  void subscribeLoop(Instance* instance);
  // Subscriber thread: sends the SUBSCRIBEs and UNSUBSCRIBEs of up to 1,000 changed streams;
  // false when the connection failed. `*more`: changes are left for the next call.
  bool syncInterest(Instance* instance, redisContext* ctx, bool* more);
  // Subscriber thread: a reply of the subscription that is not a message.
  void onSubscriptionReply(Instance* instance, const redisReply& reply);
  // After a (re)connect: every wanted stream is to be subscribed on the new connection.
  void resetInterest(Instance* instance);
  // The marker channel of this replica on an instance.
  std::string markerChannel(size_t instance) const;
  // Reads one subscription's messages until it is lost or stopping; false when a ping of an
  // idle connection went unanswered (a silent cut), true for a close, a reset or stop().
  bool readSubscription(Instance* instance, redisContext* ctx);
  // How long a ping waits for its answer: the command timeout, at least a second.
  std::chrono::milliseconds pingTimeout() const;
  void onPublication(size_t instance, const std::string& redis_channel, const std::string& payload);
  // "herald:p:<db>:" of an instance: pub/sub is shared by every database of a Redis, so the
  // database number keeps two clusters on one Redis apart.
  std::string pubsubPrefix(size_t instance) const;

  const Options options_;
  const DeliveryRouter& router_;
  const std::function<void(const std::string&)> on_resubscribed_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::vector<std::pair<uint64_t, size_t>> ring_;  // (point, instance), sorted
  std::atomic<uint64_t> publications_{0};
  mutable std::atomic<uint64_t> next_connection_{0};
  std::atomic<bool> stopping_{false};
  std::thread gossip_;
  PeerChannel::Handler peer_handler_;  // set before start()
  // Markers of awaitRouted(): ours carry `marker_token_`; the highest seen per instance.
  const std::string marker_token_;
  mutable std::atomic<uint64_t> next_marker_{0};
  mutable std::mutex marker_mu_;
  mutable std::condition_variable marker_cv_;
  std::vector<uint64_t> markers_seen_;
  // The scripts' names for EVALSHA (EVAL when Redis does not have them cached yet).
  const std::string publish_sha_;
  const std::string read_sha_;
};

}  // namespace herald::control
