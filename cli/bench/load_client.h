#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/bench/latency_histogram.h"

namespace herald::bench {

struct LoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  // Request path per connection; "{i}" becomes the connection's index.
  std::string path = "/ws";
  // A text frame sent right after the upgrade ("{i}" as above); empty: none.
  std::string first_frame;
  uint32_t connections = 100;
  uint32_t connect_rate = 0;      // new connections per second; 0 = as fast as possible
  uint32_t source_addresses = 1;  // bind to 127.0.0.1 .. 127.0.0.N (more than 28k on loopback)
  uint32_t threads = 1;
  // HS256 tokens: when set, each connection adds token=<JWT for sub "bench-{i}"> to its URL.
  std::string jwt_secret;
  std::string jwt_kid;
  // Churn: each client subscribes to and unsubscribes from CHANNEL ({i} as above) in turn,
  // the next frame as soon as the previous one is answered. Empty: no churn.
  std::string churn_channel;
  uint32_t churn_depth = 1;  // churn frames in flight per client
  // Offer permessage-deflate; a connection whose server does not agree fails (the run then
  // measures what it claims to).
  bool deflate = false;
};

// Live counters, read by the progress line while the run goes on.
struct LoadProgress {
  uint64_t established = 0;
  uint64_t failed = 0;
  uint64_t closed = 0;
  uint64_t messages = 0;
  uint64_t churn_ops = 0;  // subscribe/unsubscribe frames answered
};

struct LoadResults {
  uint64_t churn_ops = 0;
  uint64_t established = 0;
  uint64_t failed = 0;
  uint64_t closed = 0;  // closed by the server (or the network) during the run
  uint64_t messages = 0;
  uint64_t bytes = 0;              // received on the wire, handshakes included
  uint64_t compressed_frames = 0;  // text frames that came compressed (RSV1)
  uint64_t gaps = 0;               // messages missing between two received offsets
  uint64_t out_of_order = 0;       // an offset not above the last one of its channel (dup/reorder)
  uint64_t tail_missing = 0;       // filled by the caller from the publisher's last offsets
  std::vector<uint64_t> per_connection;  // messages per established connection
  LatencyHistogram latency;              // publish-to-receive, microseconds
  std::string first_error;
  double connect_seconds = 0;  // from the first attempt to the last connection established
};

/**
 * N WebSocket clients on a few threads, each thread with its own io_context. A reader drains
 * every readable socket into one shared buffer per thread (many frames per recv), parses
 * frames in place and keeps only a partial frame per connection, so a connection costs a
 * socket and a few dozen bytes. Messages are the text frames carrying the bench timestamp
 * ("t": microseconds since the epoch); "offset" and "channel", when present, are checked.
 */
class LoadClient {
 public:
  explicit LoadClient(LoadOptions options);
  ~LoadClient();

  void start();
  LoadProgress progress() const;
  // Last offset received per channel hash, for tail-loss accounting (after stop()).
  void stop();
  LoadResults results() const;
  // For each connection and channel, how far its last offset is behind `last` (by name).
  uint64_t missingAtTail(const std::string& channel, uint64_t last) const;

  struct Worker;

 private:
  LoadOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace herald::bench
