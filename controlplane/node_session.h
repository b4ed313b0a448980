#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/latency_histogram.h"
#include "controlplane/node_sink.h"
#include "herald/v1/control.pb.h"
#include "herald/v1/node_link.grpc.pb.h"

namespace herald::control {

/**
 * One connected node's NodeLink stream. The gRPC handler thread reads; a writer thread owned
 * here drains the outbound queue, so publishers never block on a slow node. Closing cancels
 * the stream, which ends the handler's read loop.
 */
class NodeSession : public NodeSink {
 public:
  using Stream = grpc::ServerReaderWriter<herald::v1::ControlMessage, herald::v1::NodeMessage>;

  NodeSession(grpc::ServerContext* context, Stream* stream, const herald::v1::Hello& hello,
              size_t queue_limit);
  ~NodeSession() override;

  // herald::control::NodeSink
  const std::string& nodeId() const override { return node_id_; }
  bool send(ControlMessagePtr message) override;

  void startWriter();
  // Cancels the stream (the node reconnects and resyncs) and records why.
  void cancel(const std::string& why);
  // Stops the writer thread; call once the handler's read loop has ended.
  void stop();

  // Queues a config snapshot with a fresh nonce.
  void sendConfig(const std::shared_ptr<const herald::v1::ConfigSnapshot>& snapshot);
  struct StatsReport {
    bool became_draining = false;  // the first stats to say the node is draining
    // Not the session's first report: `delivered` and the report's per-namespace and
    // per-channel deliveries are new since the previous one (a relinked node's first report
    // carries what it delivered before).
    bool follows_previous = false;
    uint64_t delivered = 0;  // messages_out since the previous report
  };
  // Channels of a report's top_channels kept (a node reports 20).
  static constexpr int kMaxTopChannels = 20;
  StatsReport recordStats(const herald::v1::NodeStats& stats);
  void recordAck(const herald::v1::Ack& ack);
  void recordNack(const herald::v1::Nack& nack);
  void markUnhealthy();

  herald::v1::NodeInfo info() const;
  // The node's publish-to-write histogram as of its last heartbeat.
  LatencyHistogram::Snapshot publishToWrite() const {
    std::lock_guard<std::mutex> lock(info_mu_);
    return publish_to_write_;
  }
  std::chrono::steady_clock::time_point lastHeartbeat() const;
  bool healthy() const;

  // The node's process (Hello.instance) and the channels it holds subscribers of, kept from
  // its Hello and interest deltas for the leaves of a node that goes (LostNodeLeaves).
  const std::string& instance() const { return instance_; }
  // Set by NodeRegistry::attach: later sessions of a node id have larger ones.
  void setGeneration(uint64_t generation) { generation_.store(generation); }
  uint64_t generation() const { return generation_.load(); }
  void applyInterest(const herald::v1::InterestDelta& delta);
  std::vector<std::string> channels() const;

 private:
  void writerLoop();
  // TryCancel only while the handler still owns the context (it dies when the RPC returns).
  void cancelContext();

  grpc::ServerContext* const context_;
  Stream* const stream_;
  const std::string node_id_;
  const std::string instance_;
  std::atomic<uint64_t> generation_{0};
  const size_t queue_limit_;
  mutable std::mutex channels_mu_;  // the reader applies deltas; a replacing session reads
  std::unordered_set<std::string> channels_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<ControlMessagePtr> queue_;
  bool closed_ = false;
  std::thread writer_;
  std::mutex context_mu_;
  bool context_live_ = true;

  mutable std::mutex info_mu_;
  herald::v1::NodeInfo info_;
  LatencyHistogram::Snapshot publish_to_write_;  // under info_mu_
  bool stats_seen_ = false;                      // under info_mu_
  std::string pending_nonce_;
  uint64_t last_sent_version_ = 0;  // pushes to one node never go back in version
  std::chrono::steady_clock::time_point last_heartbeat_;
};

}  // namespace herald::control
