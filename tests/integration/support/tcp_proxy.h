#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace herald::testing {

// A TCP forwarder on 127.0.0.1 (an ephemeral port) to `target_port` on loopback, that can
// freeze: it stops moving bytes either way while every connection stays open, as a network
// that silently drops everything would (no FIN, no RST). New connections are accepted and
// connected through while frozen, but carry nothing either.
class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void freeze() { frozen_ = true; }
  void thaw() { frozen_ = false; }

 private:
  void run();

  int target_port_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace herald::testing
