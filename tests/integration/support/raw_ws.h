#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

struct ssl_ctx_st;
struct ssl_st;

namespace herald::testing {

// A hand-driven WebSocket client over a plain socket, for sending what well-behaved
// libraries refuse to send (invalid UTF-8, fragments, garbage) and for reading raw frames.
class RawWs {
 public:
  // Connects and completes the handshake; check ok().
  // `headers`: extra request lines such as "Origin: https://a.example".
  // `tls_ca`: when set, speak TLS (wss://) and verify the server against this CA file.
  // `receive_buffer`: SO_RCVBUF in bytes when > 0 (a small one models a slow reader).
  RawWs(const std::string& host_port, const std::string& path,
        const std::vector<std::string>& headers = {}, const std::string& tls_ca = "",
        int receive_buffer = 0);
  ~RawWs();

  bool ok() const { return ok_; }
  // The handshake's HTTP status (101 when upgraded), 0 when there was no answer.
  int status() const { return status_; }
  // The handshake response's status line and headers, as received.
  const std::string& responseHead() const { return head_; }
  // Sends one masked frame; `fin` false starts or continues a fragmented message; `rsv1`
  // marks it compressed (permessage-deflate).
  bool sendFrame(int opcode, const std::string& payload, bool fin = true, bool rsv1 = false);

  struct Frame {
    int opcode = 0;
    bool rsv1 = false;  // compressed (permessage-deflate)
    std::string payload;
  };
  std::optional<Frame> readFrame(std::chrono::milliseconds timeout);
  // Reads frames until a close frame; returns its status code.
  std::optional<int> waitCloseCode(std::chrono::milliseconds timeout);

 private:
  bool readExact(size_t n, std::string* out, std::chrono::steady_clock::time_point deadline);
  bool writeAll(const std::string& data);
  ssize_t readSome(char* buf, size_t n);

  int fd_ = -1;
  ssl_ctx_st* tls_ctx_ = nullptr;
  ssl_st* tls_ = nullptr;
  bool ok_ = false;
  int status_ = 0;
  std::string head_;
  std::string buffer_;
};

}  // namespace herald::testing
