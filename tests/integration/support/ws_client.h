#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace herald::testing {

/**
 * A WebSocket client as a browser would be: connects to a real node, collects every text
 * frame it receives, and lets a test wait for frames with a deadline.
 */
class WsClient {
 public:
  // `headers` go with the upgrade request (as a browser's cookies would).
  explicit WsClient(const std::string& url, const std::map<std::string, std::string>& headers = {});
  ~WsClient();

  // Waits for the handshake; false if it failed or timed out (see failReason()).
  bool waitOpen(std::chrono::milliseconds timeout);
  void send(const std::string& text);
  void sendBinary(const std::string& bytes);
  // The next text frame as JSON (nullopt on timeout or close); frames are kept in order.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout);
  // The next text frame as received, unparsed (for tests that read many frames).
  std::optional<std::string> nextText(std::chrono::milliseconds timeout);
  // Skips frames until one of `type` arrives.
  std::optional<nlohmann::json> nextOfType(const std::string& type,
                                           std::chrono::milliseconds timeout);
  // The next `reply`, `rpc` or `error` frame (the answer to a request), skipping others;
  // {"type":"timeout"} when none comes in time.
  nlohmann::json nextAnswer(std::chrono::milliseconds timeout);
  // Waits for the server to close; returns the close code it sent.
  std::optional<int> waitClosed(std::chrono::milliseconds timeout);
  void close();
  std::string failReason() const;
  int httpStatus() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A client at `url` that has opened and received `connected` (a failure is a test failure and
// the client is returned anyway, so the test can go on reporting).
std::unique_ptr<WsClient> connectGreeted(const std::string& url,
                                         const std::map<std::string, std::string>& headers = {});

// A plain HTTP GET on loopback; returns {status, body}.
struct HttpResponse {
  int status = 0;
  std::string body;
};
HttpResponse httpGet(const std::string& host_port, const std::string& path);

}  // namespace herald::testing
