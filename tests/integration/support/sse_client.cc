#include "integration/support/sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace herald::testing {

namespace {

using Clock = std::chrono::steady_clock;

int connectTo(const std::string& host_port, int receive_buffer) {
  const size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads into `buffer` once (up to the deadline); false when the peer closed or time ran out.
bool readSome(int fd, std::string* buffer, Clock::time_point deadline, bool* closed) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) {
    return false;
  }
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
    return false;
  }
  char chunk[16384];
  const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
  if (n <= 0) {
    *closed = true;
    return false;
  }
  buffer->append(chunk, static_cast<size_t>(n));
  return true;
}

std::string request(const std::string& host_port, const std::string& method,
                    const std::string& target, const std::vector<std::string>& headers,
                    const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: " + host_port + "\r\n";
  for (const auto& h : headers) {
    out += h + "\r\n";
  }
  if (!body.empty() || method == "POST") {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return out + "\r\n" + body;
}

size_t contentLength(const std::string& head) {
  for (const char* name : {"Content-Length: ", "content-length: "}) {
    const size_t at = head.find(name);
    if (at != std::string::npos) {
      return std::strtoul(head.c_str() + at + 16, nullptr, 10);
    }
  }
  return 0;
}

}  // namespace

SseClient::SseClient(const std::string& host_port, const std::string& target,
                     const std::vector<std::string>& headers, int receive_buffer,
                     std::chrono::milliseconds timeout) {
  fd_ = connectTo(host_port, receive_buffer);
  if (fd_ < 0 || !sendAll(fd_, request(host_port, "GET", target, headers, ""))) {
    return;
  }
  const auto deadline = Clock::now() + timeout;
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!readSome(fd_, &buffer_, deadline, &ended_)) {
      return;
    }
  }
  head_ = buffer_.substr(0, end + 4);
  buffer_.erase(0, end + 4);
  if (head_.rfind("HTTP/1.1 ", 0) == 0) {
    status_ = std::atoi(head_.c_str() + 9);
  }
  if (status_ != 200) {
    const size_t length = contentLength(head_);
    while (buffer_.size() < length && readSome(fd_, &buffer_, deadline, &ended_)) {
    }
    body_ = buffer_;
  }
}

SseClient::~SseClient() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool SseClient::fill(Clock::time_point deadline) {
  return !ended_ && readSome(fd_, &buffer_, deadline, &ended_);
}

std::optional<std::string> SseClient::line(Clock::time_point deadline) {
  for (;;) {
    const size_t eol = buffer_.find('\n');
    if (eol != std::string::npos) {
      std::string out = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      return out;
    }
    if (!fill(deadline)) {
      return std::nullopt;
    }
  }
}

std::optional<SseClient::Event> SseClient::next(std::chrono::milliseconds timeout) {
  if (status_ != 200) {
    return std::nullopt;
  }
  const auto deadline = Clock::now() + timeout;
  Event event;
  std::string name;  // the `event:` field
  bool has_data = false;
  for (;;) {
    auto l = line(deadline);
    if (!l) {
      return std::nullopt;
    }
    if (l->empty()) {
      if (has_data && name == "heartbeat") {
        ++heartbeats_;
      } else if (has_data) {
        return event;
      }
      event = Event{};
      name.clear();
      has_data = false;
      continue;
    }
    if ((*l)[0] == ':') {
      ++comments_;
      continue;
    }
    const size_t colon = l->find(':');
    const std::string field = l->substr(0, colon);
    std::string value = colon == std::string::npos ? "" : l->substr(colon + 1);
    if (!value.empty() && value[0] == ' ') {
      value.erase(0, 1);
    }
    if (field == "data") {
      if (has_data) {
        event.data.push_back('\n');
      }
      event.data += value;
      has_data = true;
    } else if (field == "id") {
      event.id = value;
    } else if (field == "event") {
      name = value;
    } else if (field == "retry") {
      retry_ms_ = std::atoi(value.c_str());
    }
  }
}

std::optional<SseClient::Event> SseClient::nextOfType(const std::string& type,
                                                      std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    auto event = next(left);
    if (!event) {
      return std::nullopt;
    }
    if (event->frame().value("type", "") == type) {
      return event;
    }
  }
}

bool SseClient::sendRaw(const std::string& bytes) { return sendAll(fd_, bytes); }

bool SseClient::waitEnded(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!ended_ && Clock::now() < deadline) {
    buffer_.clear();
    fill(deadline);
  }
  return ended_;
}

HttpExchange httpRequest(const std::string& host_port, const std::string& method,
                         const std::string& target, const std::vector<std::string>& headers,
                         const std::string& body, std::chrono::milliseconds timeout) {
  HttpExchange out;
  const int fd = connectTo(host_port, 0);
  if (fd < 0) {
    return out;
  }
  if (sendAll(fd, request(host_port, method, target, headers, body))) {
    const auto deadline = Clock::now() + timeout;
    std::string buffer;
    bool closed = false;
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos &&
           readSome(fd, &buffer, deadline, &closed)) {
    }
    if (end != std::string::npos) {
      out.head = buffer.substr(0, end + 4);
      const size_t length = contentLength(out.head);
      while (buffer.size() - end - 4 < length && readSome(fd, &buffer, deadline, &closed)) {
      }
      out.body = buffer.substr(end + 4);
      if (out.head.rfind("HTTP/1.1 ", 0) == 0) {
        out.status = std::atoi(out.head.c_str() + 9);
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace herald::testing
