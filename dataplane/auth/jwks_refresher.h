#pragma once
// The node's copy of the JWT keys at AuthSettings.jwks_url (docs/security.md "Keys from a JWKS
// URL"): fetched
// at once, every refresh period, and soon after a token names a kid no key has; a failed fetch
// keeps the last good set.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/jwt_verifier.h"

namespace httplib {
class ClientImpl;
}

namespace herald::node {

class JwksRefresher {
 public:
  // Hears that the keys changed (a new set, on the refresher's thread; none when the URL goes):
  // the listener reads them with keysFor(), so a late call never brings back a dropped set.
  using OnChange = std::function<void()>;
  explicit JwksRefresher(OnChange on_change) : on_change_(std::move(on_change)) {}
  ~JwksRefresher() { stop(); }
  JwksRefresher(const JwksRefresher&) = delete;
  JwksRefresher& operator=(const JwksRefresher&) = delete;

  // From each config: the URL ("" none) and the period (0: 300 s). Another URL drops the keys
  // of the old one and fetches at once.
  void configure(const std::string& url, uint32_t refresh_seconds);
  // A token named a kid no key has (or the set is empty): fetch again, at most every 10 s.
  void unknownKid();
  // The keys held when they are `url`'s (none otherwise: another URL's keys never serve).
  std::vector<JwtKeySpec> keysFor(const std::string& url) const;
  std::string url() const;
  // Ends a fetch under way too.
  void stop();

  // For /metrics: fetches that gave a set, and those that failed; keys held.
  uint64_t fetchesOk() const { return fetches_ok_.load(); }
  uint64_t fetchesFailed() const { return fetches_failed_.load(); }
  size_t keyCount() const;

  static constexpr std::chrono::seconds kMinInterval{10};
  // Per connect and read, and for the whole fetch (a server trickling bytes is cut off).
  static constexpr std::chrono::seconds kTimeout{5};
  static constexpr std::chrono::seconds kFetchDeadline{15};

 private:
  void run();
  // One fetch of `url`; the set, or why not. `log_skipped`: name the keys left out (once per
  // document, not at every refresh).
  Result<std::vector<JwtKeySpec>> fetch(const std::string& url);

  const OnChange on_change_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::string url_;
  std::chrono::seconds every_{300};
  bool asked_ = false;    // unknownKid() since the last fetch
  bool changed_ = false;  // configure() gave another URL
  bool stopping_ = false;
  std::vector<JwtKeySpec> keys_;
  httplib::ClientImpl* fetching_ = nullptr;  // the client of the fetch under way, for stop()
  size_t last_document_ = 0;                 // hash of the last document fetched
  std::thread thread_;
  std::atomic<uint64_t> fetches_ok_{0};
  std::atomic<uint64_t> fetches_failed_{0};
};

}  // namespace herald::node
