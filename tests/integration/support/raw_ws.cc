#include "integration/support/raw_ws.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace herald::testing {

RawWs::RawWs(const std::string& host_port, const std::string& path,
             const std::vector<std::string>& headers, const std::string& tls_ca,
             int receive_buffer) {
  const size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) {
    // Before connect, so the advertised window stays small: a client that does not read
    // then fills up the node's queue instead of the kernel's buffers.
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return;
  }
  if (!tls_ca.empty()) {
    tls_ctx_ = SSL_CTX_new(TLS_client_method());
    if (SSL_CTX_load_verify_locations(tls_ctx_, tls_ca.c_str(), nullptr) != 1) {
      return;
    }
    SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_PEER, nullptr);
    tls_ = SSL_new(tls_ctx_);
    SSL_set_fd(tls_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls_), host_port.substr(0, colon).c_str());
    if (SSL_connect(tls_) != 1) {
      return;
    }
  }
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n";
  for (const auto& h : headers) {
    request += h + "\r\n";
  }
  request += "\r\n";
  if (!writeAll(request)) {
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    std::string byte;
    if (!readExact(1, &byte, deadline)) {
      return;
    }
    head += byte;
  }
  if (head.compare(0, 9, "HTTP/1.1 ") == 0 && head.size() >= 12) {
    status_ = std::stoi(head.substr(9, 3));
  }
  ok_ = status_ == 101;
  head_ = head;
}

RawWs::~RawWs() {
  if (tls_ != nullptr) {
    SSL_free(tls_);
  }
  if (tls_ctx_ != nullptr) {
    SSL_CTX_free(tls_ctx_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool RawWs::writeAll(const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t w =
        tls_ != nullptr ? SSL_write(tls_, data.data() + sent, static_cast<int>(data.size() - sent))
                        : ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) {
      return false;
    }
    sent += static_cast<size_t>(w);
  }
  return true;
}

ssize_t RawWs::readSome(char* buf, size_t n) {
  return tls_ != nullptr ? SSL_read(tls_, buf, static_cast<int>(n)) : ::recv(fd_, buf, n, 0);
}

bool RawWs::sendFrame(int opcode, const std::string& payload, bool fin, bool rsv1) {
  std::string frame;
  frame.push_back(static_cast<char>((fin ? 0x80 : 0x00) | (rsv1 ? 0x40 : 0x00) | (opcode & 0x0f)));
  const size_t n = payload.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>((n >> 8) & 0xff));
    frame.push_back(static_cast<char>(n & 0xff));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) {
      frame.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff));
    }
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(mask, 4);
  for (size_t i = 0; i < n; ++i) {
    frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  }
  return writeAll(frame);
}

bool RawWs::readExact(size_t n, std::string* out, std::chrono::steady_clock::time_point deadline) {
  out->clear();
  while (out->size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    // TLS may hold decrypted bytes already: only wait on the socket when it does not.
    if (tls_ == nullptr || SSL_pending(tls_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
    }
    char buf[4096];
    const ssize_t r = readSome(buf, std::min(sizeof(buf), n - out->size()));
    if (r <= 0) {
      return false;
    }
    out->append(buf, static_cast<size_t>(r));
  }
  return true;
}

std::optional<RawWs::Frame> RawWs::readFrame(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string head;
  if (!readExact(2, &head, deadline)) {
    return std::nullopt;
  }
  Frame f;
  f.opcode = head[0] & 0x0f;
  f.rsv1 = (head[0] & 0x40) != 0;
  uint64_t len = static_cast<unsigned char>(head[1]) & 0x7f;
  std::string ext;
  if (len == 126) {
    if (!readExact(2, &ext, deadline)) return std::nullopt;
    len = (static_cast<unsigned char>(ext[0]) << 8) | static_cast<unsigned char>(ext[1]);
  } else if (len == 127) {
    if (!readExact(8, &ext, deadline)) return std::nullopt;
    len = 0;
    for (char c : ext) {
      len = (len << 8) | static_cast<unsigned char>(c);
    }
  }
  if (!readExact(static_cast<size_t>(len), &f.payload, deadline)) {
    return std::nullopt;
  }
  return f;
}

std::optional<int> RawWs::waitCloseCode(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto f = readFrame(left);
    if (!f) {
      return std::nullopt;
    }
    if (f->opcode == 0x8) {
      // Answer the close as every client library does (RFC 6455 §5.5.1), so the server can
      // finish its close handshake instead of waiting out its timer.
      sendFrame(0x8, f->payload.substr(0, 2));
      if (f->payload.size() < 2) {
        return 1005;
      }
      return (static_cast<unsigned char>(f->payload[0]) << 8) |
             static_cast<unsigned char>(f->payload[1]);
    }
  }
}

}  // namespace herald::testing
