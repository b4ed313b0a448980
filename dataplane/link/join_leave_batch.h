#pragma once
// Joins and leaves of channels in namespaces with join_leave, gathered between two reports to
// herald-control (JoinLeaveReporter sends one every 100 ms while there is something to say).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * Node-wide and thread-safe: shards record each connection that joins or leaves such a
 * channel. Within one window a join and a leave of the same connection cancel out (a client
 * that flaps is not news), at most kMaxListed of each kind are listed per channel and
 * kMaxListedTotal in all, the rest only counted (JoinLeave.*_unlisted): memory and report size
 * stay bounded under any churn. Channels past kMaxChannels in one window are not reported at
 * all (counted in unreported()).
 */
class JoinLeaveBatch {
 public:
  static constexpr size_t kMaxListed = 100;
  static constexpr size_t kMaxListedTotal = 20000;
  static constexpr size_t kMaxChannels = 10000;
  // A report is cut into messages of about this many bytes (gRPC refuses messages over 4 MiB).
  static constexpr size_t kMaxMessageBytes = 256 << 10;

  void joined(const std::string& channel, const std::string& client, const std::string& user);
  void left(const std::string& channel, const std::string& client, const std::string& user);

  // Everything gathered since the previous call, as NodeMessages of kind join_leave (none when
  // nothing is left to say); starts a new window.
  std::vector<herald::v1::NodeMessage> take();
  bool empty() const;

  // Called (outside the lock, on the recording thread) when a window gets its first entry;
  // null: nobody is told. A call under way when it is replaced still runs: whoever it calls
  // must outlive the recording threads (the Node stops its shards before the reporter goes).
  void setNotifier(std::function<void()> notify);

  // Joins and leaves that reached no report: their channel came past kMaxChannels, or the
  // report could not be sent (addUnreported).
  uint64_t unreported() const;
  void addUnreported(uint64_t n);

 private:
  struct Entry {
    std::string client;
    std::string user;
  };
  struct Pending {
    std::vector<Entry> joined;
    std::vector<Entry> left;
    uint32_t joined_unlisted = 0;
    uint32_t left_unlisted = 0;
  };
  void record(const std::string& channel, const std::string& client, const std::string& user,
              bool join);
  // Lists the entry, unless the same client's opposite entry is listed: then both go.
  void recordLocked(const std::string& channel, const std::string& client, const std::string& user,
                    bool join);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Pending> pending_;
  size_t listed_ = 0;
  uint64_t unreported_ = 0;
  std::function<void()> notify_;
};

}  // namespace herald::node
