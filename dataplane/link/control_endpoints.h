#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"

namespace herald::node {

/**
 * The herald-control addresses a node may dial (`--control A,B,...`), and the decision of
 * which one to dial next and how long to wait first. The first address is dialled at start.
 * Every attempt that ends (a failed dial, a refused or stuck Hello, a broken session) moves
 * to the next address, round-robin, after a delay drawn uniformly from [ceiling/2, ceiling]:
 *
 * - after a session that had received its config (a control plane that was up went away):
 *   ceiling = base (100 ms), so the next address is tried almost at once, and the jitter
 *   keeps the nodes of a dead replica from all landing on the next one in the same instant;
 * - after a failed attempt, while the round of addresses since the last session that was up
 *   is not complete: ceiling = base as well (a dead address does not delay a live one);
 * - after the attempt that completes a round of failures, the r-th such round:
 *   ceiling = min(max_delay_ms, base × 2^r).
 *
 * With one address every attempt completes a round, which is exactly the node's historical
 * backoff: min(max, 100 ms × 2^attempt), the attempt count reset by a session that was up.
 * Not thread-safe: the NodeLink thread owns it.
 */
class ControlEndpoints {
 public:
  static constexpr uint32_t kBaseDelayMs = 100;

  // Parses "HOST:PORT[,HOST:PORT...]". Spaces around an item are ignored. An empty item, an
  // item that is not HOST:PORT, and an address listed twice (host compared without case,
  // port as a number) are errors; the message names the item.
  static Result<std::vector<std::string>> parseList(const std::string& text);

  // `addresses` must not be empty. `seed` makes the jitter reproducible in tests.
  ControlEndpoints(std::vector<std::string> addresses, uint32_t max_delay_ms,
                   uint64_t seed = std::random_device{}());

  // The address to dial now (or the one whose session is up).
  const std::string& current() const { return addresses_[index_]; }
  size_t currentIndex() const { return index_; }
  size_t size() const { return addresses_.size(); }
  const std::vector<std::string>& addresses() const { return addresses_; }
  // Failed attempts in a row since the last session that was up (0 right after one broke).
  uint32_t failures() const { return failures_; }

  // The session on current() received its config: it is up.
  void onConnected() { up_ = true; }
  // The attempt or session on current() ended. Moves to the next address and returns how
  // long to wait before dialling it.
  std::chrono::milliseconds onFailure();

  // The delay's ceiling after `rounds` complete rounds of failures: min(max, base × 2^rounds).
  static uint64_t ceilingMs(uint32_t rounds, uint32_t max_delay_ms);

 private:
  std::vector<std::string> addresses_;
  uint32_t max_delay_ms_;
  size_t index_ = 0;
  uint32_t failures_ = 0;
  bool up_ = false;
  std::mt19937_64 rng_;
};

}  // namespace herald::node
