#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace herald::control {

/**
 * Messages between the replicas of a cluster, addressed by replica id (with Redis: pub/sub,
 * one channel per replica). At most once, unordered between senders; a message to a replica
 * that is not listening is lost, and send() says so by counting no receiver.
 */
class PeerChannel {
 public:
  // Called on the receiving thread: keep it quick.
  using Handler = std::function<void(const std::string& payload)>;
  virtual ~PeerChannel() = default;

  // Receives what is sent to `self`, and to every replica ("*"), from now on (one handler; set
  // once). Our own messages to "*" come back too.
  virtual void listen(const std::string& self, Handler handler) = 0;
  // To one replica, or to every one with `to` "*". Returns how many listeners received it
  // (0: nobody listens as `to`).
  virtual Result<uint64_t> send(const std::string& to, const std::string& payload) = 0;
};

}  // namespace herald::control
