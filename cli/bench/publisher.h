#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace herald::bench {

struct PublishOptions {
  // Herald's Control API (gRPC) ...
  std::string control = "127.0.0.1:7070";
  std::string api_key;
  // ... or any HTTP endpoint taking the JSON body by POST (e.g. another server's publish URL).
  std::string http_url;
  std::vector<std::string> channels;  // published round-robin
  double rate = 0;                    // publications per second; 0 = as fast as accepted
  uint32_t batch = 1;                 // Herald: publications per PublishBatch call
  bool stream = false;                // Herald: one PublishStream call instead of batches
  size_t payload_bytes = 200;         // size of the JSON data, timestamp included
  // Fill with an order book (`"p":[{"px":…,"sz":…},…]`, varying digits) instead of "xxx…":
  // compresses like market data does, not like a run of one letter.
  bool book = false;
  std::map<std::string, std::string> tags;  // Herald: every publication's tags
  // Closed loop: called before each call; false = wait (e.g. too much is still in flight).
  std::function<bool(uint64_t published)> may_publish;
};

/**
 * Publishes `{"t":<unix microseconds>,"p":"xxx…"}` payloads from one thread, at a fixed rate
 * or as fast as the server accepts them, and remembers the last offset per channel so the
 * run can tell what subscribers are missing at the end.
 */
class Publisher {
 public:
  explicit Publisher(PublishOptions options);
  ~Publisher();

  void start();
  void stop();
  uint64_t published() const { return published_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  std::string firstError() const;
  // Last offset per channel (Herald only; empty for HTTP publishing).
  std::map<std::string, uint64_t> lastOffsets() const;

 private:
  void runGrpc();
  void runStream();
  void runHttp();
  std::string payload() const;
  // Waits for the next slot (fixed rate) and for room (closed loop); false when stopping.
  bool waitForTurn(std::chrono::steady_clock::time_point start, uint64_t sent);

  PublishOptions options_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> last_offsets_;
  std::string first_error_;
};

}  // namespace herald::bench
