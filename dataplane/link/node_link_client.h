#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/latency_histogram.h"
#include "common/status.h"
#include "dataplane/link/client_event_log.h"
#include "dataplane/link/control_endpoints.h"
#include "dataplane/link/interest_tracker.h"
#include "dataplane/link/node_link_handler.h"
#include "herald/v1/node_link.grpc.pb.h"

namespace herald::node {

struct NodeLinkOptions {
  // Dialled in order, round-robin (see ControlEndpoints); at least one.
  std::vector<std::string> control_addresses;
  std::string node_id;
  std::string listen_address;
  uint32_t capacity = 0;
  uint32_t reconnect_max_ms = 5000;
  std::string secret;
  // Empty: plaintext. Else TLS with these PEM contents (cert/key only for mTLS).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

/**
 * The node's end of NodeLink.Session. One thread reads (config, deliveries, commands), one
 * writes (heartbeat stats every interval, interest deltas as soon as they happen). When the
 * stream breaks it reconnects, to the next control-plane address when it has several, with
 * exponential backoff and jitter (ControlEndpoints) and resyncs its full interest in Hello;
 * the node keeps serving with its last config meanwhile.
 */
class NodeLinkClient {
 public:
  NodeLinkClient(NodeLinkOptions options, InterestTracker& interest, NodeLinkHandler& handler);
  ~NodeLinkClient();

  // Connections' events ride with the interest (before start(); the log outlives this).
  void setClientEventLog(ClientEventLog* log);
  void start();
  void stop();
  bool connected() const { return connected_.load(); }
  // The control-plane address of the session that is up, or, while there is none, the one
  // being dialled or dialled next.
  const std::string& controlAddress() const { return options_.control_addresses[current_.load()]; }
  // Sends a stats message now (e.g. to say "draining") and waits up to `timeout` for it to be
  // written; false when there is no link or it did not go out in time.
  bool reportStatsNow(std::chrono::milliseconds timeout);
  uint64_t reconnects() const { return reconnects_.load(); }
  // Heartbeat round trips to the control plane (each NodeStats and its HeartbeatEcho).
  LatencyHistogram::Snapshot roundTrips() const { return rtt_.snapshot(); }
  int64_t lastRoundTripMicros() const { return last_rtt_us_.load(); }
  // Queues a message (a recovery request, a presence reply) for the control plane. It goes
  // out after any interest change recorded before this call, on this session or the next
  // (after Hello). False when the outbox is full.
  // `first`: ahead of what is already waiting (the node's own resync goes before the
  // recoveries its clients asked for while the link was down).
  bool send(herald::v1::NodeMessage message, bool first = false);

  // As send(), for a join / leave report, which is worth nothing late: only while a session
  // is up and fewer than `max_waiting` messages wait; dropped, not kept, if that session ends.
  bool sendFresh(herald::v1::NodeMessage message, size_t max_waiting);

  // Most messages waiting in the outbox (e.g. while the control plane is away).
  static constexpr size_t kMaxOutbox = 10000;
  // How long a dial may take before the next address is tried (several addresses only).
  static constexpr std::chrono::seconds kDialTimeout{5};

 private:
  void runLoop();
  std::shared_ptr<grpc::Channel> newChannel(const std::string& address) const;
  // With several addresses: waits until `channel` is connected (TCP, TLS, HTTP/2). False when
  // the dial fails, when it is still not done after kDialTimeout (a host that swallows SYNs,
  // a stopped process), or when stopping: the next address is tried instead.
  bool dialed(grpc::Channel& channel, const std::string& address) const;
  // One session on endpoints_.current(), from Hello to stream end.
  void runSession();
  void writerLoop(
      grpc::ClientReaderWriter<herald::v1::NodeMessage, herald::v1::ControlMessage>* stream);
  bool write(grpc::ClientReaderWriter<herald::v1::NodeMessage, herald::v1::ControlMessage>* stream,
             const herald::v1::NodeMessage& message);
  void sleep(std::chrono::milliseconds delay);

  const NodeLinkOptions options_;
  InterestTracker& interest_;
  ClientEventLog* client_log_ = nullptr;
  NodeLinkHandler& handler_;
  const std::string instance_;  // random per process: Hello.instance
  // Held exclusively while the interest delta and the connections' events are taken, shared
  // by each report of them: both are taken as of one instant.
  std::shared_mutex report_order_;
  ControlEndpoints endpoints_;      // NodeLink thread only
  std::atomic<size_t> current_{0};  // endpoints_.currentIndex(), for other threads

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> reconnects_{0};
  LatencyHistogram rtt_;
  std::atomic<int64_t> last_rtt_us_{0};
  std::atomic<uint32_t> heartbeat_ms_{1000};
  std::atomic<bool> session_configured_{false};

  std::mutex mu_;  // guards context_, session_over_, wake-ups
  std::condition_variable cv_;
  grpc::ClientContext* context_ = nullptr;
  bool session_over_ = false;
  bool interest_pending_ = false;
  uint64_t stats_requested_ = 0;  // generation of the last reportStatsNow request
  uint64_t stats_written_ = 0;    // generation covered by the last stats write
  std::vector<herald::v1::NodeMessage> outbox_;

  std::mutex write_mu_;  // the gRPC stream allows one writer at a time
};

}  // namespace herald::node
