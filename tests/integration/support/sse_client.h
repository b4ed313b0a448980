#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herald::testing {

// A Server-Sent Events client over a plain socket, reading the stream as EventSource does
// (fields, comments, blank-line dispatch), for the node's GET /sse.
class SseClient {
 public:
  // Sends `GET target` with `headers` ("Last-Event-ID: ...") and reads the response head.
  // `receive_buffer`: SO_RCVBUF in bytes when > 0 (a small one models a slow reader).
  SseClient(const std::string& host_port, const std::string& target,
            const std::vector<std::string>& headers = {}, int receive_buffer = 0,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~SseClient();

  // The response's HTTP status (200 for a stream), 0 when none came.
  int status() const { return status_; }
  const std::string& head() const { return head_; }
  // A refusal's body (JSON), read whole.
  const std::string& body() const { return body_; }

  struct Event {
    std::optional<std::string> id;  // the event's `id:` field, if it had one
    std::string data;
    nlohmann::json frame() const { return nlohmann::json::parse(data); }
  };
  // The next dispatched event; nullopt on timeout or when the stream ended.
  std::optional<Event> next(std::chrono::milliseconds timeout);
  // The next event whose frame has this `type` (others are skipped).
  std::optional<Event> nextOfType(const std::string& type, std::chrono::milliseconds timeout);
  // The `retry:` the server set (0 if none yet); comments and `heartbeat` events seen so far
  // (next() skips both).
  int retryMs() const { return retry_ms_; }
  int comments() const { return comments_; }
  int heartbeats() const { return heartbeats_; }
  // True once the server closed the stream.
  bool ended() const { return ended_; }
  // Sends raw bytes up the stream (which takes none).
  bool sendRaw(const std::string& bytes);
  // Reads until the stream ends; true if it did within the timeout.
  bool waitEnded(std::chrono::milliseconds timeout);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> line(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  int status_ = 0;
  std::string head_;
  std::string body_;
  std::string buffer_;
  int retry_ms_ = 0;
  int comments_ = 0;
  int heartbeats_ = 0;
  bool ended_ = false;
};

// One HTTP request on loopback (Connection: close); returns the status and the body.
struct HttpExchange {
  int status = 0;
  std::string head;
  std::string body;
};
HttpExchange httpRequest(const std::string& host_port, const std::string& method,
                         const std::string& target, const std::vector<std::string>& headers,
                         const std::string& body,
                         std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace herald::testing
