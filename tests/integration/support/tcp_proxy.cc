#include "integration/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace herald::testing {

namespace {

int connectLoopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  ::pipe2(wake_, O_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  const char byte = 0;
  (void)::write(wake_[1], &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void TcpProxy::run() {
  struct Pair {
    int client;
    int server;
  };
  std::vector<Pair> pairs;
  char buf[16384];
  while (!stopping_) {
    const bool frozen = frozen_;
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (!frozen) {
      for (const Pair& p : pairs) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
    }
    // A short timeout: freeze() and thaw() take effect within it.
    if (::poll(fds.data(), fds.size(), 50) <= 0) {
      continue;
    }
    if (fds[1].revents & POLLIN) {
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      const int server = client >= 0 ? connectLoopback(target_port_) : -1;
      if (server >= 0) {
        pairs.push_back({client, server});
      } else if (client >= 0) {
        ::close(client);
      }
    }
    if (frozen) {
      continue;
    }
    std::vector<bool> dead(pairs.size(), false);
    for (size_t i = 0; i + 2 < fds.size(); ++i) {
      if (fds[i + 2].revents == 0) {
        continue;
      }
      const Pair& p = pairs[i / 2];
      const int from = i % 2 == 0 ? p.client : p.server;
      const int to = i % 2 == 0 ? p.server : p.client;
      const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
      if (n <= 0 || ::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
        dead[i / 2] = true;
      }
    }
    for (size_t i = pairs.size(); i-- > 0;) {
      if (dead[i]) {
        ::close(pairs[i].client);
        ::close(pairs[i].server);
        pairs.erase(pairs.begin() + static_cast<long>(i));
      }
    }
  }
  for (const Pair& p : pairs) {
    ::close(p.client);
    ::close(p.server);
  }
}

}  // namespace herald::testing
