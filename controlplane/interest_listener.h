#pragma once

#include <string>

namespace herald::control {

/**
 * Told when a stream gains its first interested node on this replica, or loses its last one,
 * so that an engine fed from elsewhere (Redis pub/sub) receives only what some node wants.
 * Called under the Router's lock, in the order of the changes: keep it quick.
 */
class InterestListener {
 public:
  virtual ~InterestListener() = default;
  // `stream_key`: the channel name, or userStreamKey(user) for a personal stream.
  virtual void interestChanged(const std::string& stream_key, bool wanted) = 0;
};

}  // namespace herald::control
