#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controlplane/peer_channel.h"

namespace herald::control {

/**
 * Connections per user across the replicas of a cluster (max_connections_per_user with
 * --engine redis): each replica tells the others, every 20 ms at most, the users whose count
 * on its own nodes changed ("u" to all, with a sequence number); a replica that missed one
 * (a gap, a restart, or one it never heard) asks for a full list ("s", answered "f"). A
 * replica no longer announced is forgotten with all it held, so nothing outlives it. Nothing
 * is stored in Redis. Eventually consistent, like the limit on one replica: two replicas
 * admitting one user at the same instant can overshoot it by one connection each.
 *
 * Messages: "u<from>\n<instance>\n<seq>\n" (to all: the changes; with none for a second, a
 * heartbeat "h" with the same header and the last delta's seq) and
 * "f<from>\n<instance>\n<seq>\n<part>\n<parts>\n" (a full list, in parts of 50,000 users), then one
 * line "<count> <user>" per user (0 removes it); "s<from>\n" asks for the full list.
 */
class ReplicaUserCounts {
 public:
  using Counts = std::vector<std::pair<std::string, uint32_t>>;
  // Another replica's counts (full: replaces what it had) or its departure.
  using Apply = std::function<void(const std::string& replica, const Counts& counts, bool full)>;
  using Forget = std::function<void(const std::string& replica)>;
  // This replica's users with connections now, for a full list.
  using LocalUsers = std::function<std::vector<std::pair<std::string, uint64_t>>()>;
  // The other replicas alive now (announced within the last 2 s); nullopt when unknown.
  using LiveReplicas = std::function<std::optional<std::vector<std::string>>()>;

  // Most users taken from one replica, and most deltas held while its full list is awaited.
  static constexpr size_t kMaxUsersPerReplica = 1000000;
  static constexpr size_t kMaxHeldDeltas = 1000;
  // Most replicas tracked (messages naming others are dropped): Redis is shared, so a bound.
  static constexpr size_t kMaxReplicas = 1024;
  // Most users, and about the most bytes, per message of a full list or of deltas: well
  // under what Redis lets a subscriber fall behind by (8 MB for a minute, 32 MB at once).
  static constexpr size_t kUsersPerPart = 50000;
  static constexpr size_t kPartBytes = 1 << 20;

  ReplicaUserCounts(PeerChannel& peers, std::string self, Apply apply, Forget forget,
                    LocalUsers local, LiveReplicas live);
  ~ReplicaUserCounts();
  ReplicaUserCounts(const ReplicaUserCounts&) = delete;
  ReplicaUserCounts& operator=(const ReplicaUserCounts&) = delete;

  void start();
  void stop();
  // A user's connections on this replica's nodes changed (UserConnections' local listener).
  void localChanged(const std::string& user, uint64_t connections);
  // A message from a peer ("u", "f" or "s"; the PeerChannel handler, quick).
  void onMessage(const std::string& payload);

 private:
  struct Peer {
    std::string instance;
    uint64_t seq = 0;
    bool synced = false;
    std::chrono::steady_clock::time_point asked{};
    std::vector<std::pair<uint64_t, Counts>> held;  // deltas waiting for the full list
    Counts assembling;                              // the parts of a full list so far
    uint64_t assembling_seq = 0;
    uint64_t next_part = 0;
    size_t held_users = 0;  // entries in `held`, bounded too
  };
  void loop();
  // Under mu_: `replica` is to be asked for its full list (by the loop thread).
  void wantFullLocked(const std::string& replica, Peer& peer);
  // The loop thread, every second: forgets replicas gone, asks those never heard of.
  void checkLiveness();
  struct Header {
    std::string from;
    std::string instance;
    uint64_t seq = 0;
    uint64_t part = 0;  // full lists: this part (1..parts)
    uint64_t parts = 0;
    size_t body = 0;  // where the user lines start
  };
  static bool parseHeader(const std::string& payload, Header* header);
  static bool parseCounts(const std::string& payload, size_t at, Counts* counts);
  // "<count> <user>\n" lines of `entries`, cut into parts (kUsersPerPart, kPartBytes).
  template <typename Entries>
  static std::vector<std::string> bodies(const Entries& entries);
  // Our full list as of `seq`, in parts.
  std::vector<std::string> fullList(uint64_t seq) const;
  std::string header(char kind, uint64_t seq) const;

  PeerChannel& peers_;
  const std::string self_;
  const std::string instance_;  // new at every start of this replica
  const Apply apply_;
  const Forget forget_;
  const LocalUsers local_;
  const LiveReplicas live_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, uint64_t> dirty_;  // users changed since the last "u"
  uint64_t seq_ = 0;  // the loop thread's: the sequence number of our last delta
  std::vector<std::string> full_wanted_;  // replicas that asked for our full list
  std::vector<std::string> to_ask_;       // replicas whose full list we want
  std::map<std::string, Peer> peers_state_;
  std::set<std::string> live_known_;  // the others, as the directory last said
  std::mutex apply_mu_;               // taken before mu_: one message (or forget) applied at a time
  std::thread thread_;
};

}  // namespace herald::control
