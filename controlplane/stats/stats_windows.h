#pragma once
// ClusterStats' windows (30 s, 1 min, 1 h, 1 day): publications and deliveries per namespace,
// active users (distinct users connected or publishing) and the channels with most
// publications with their deliveries, in bounded memory: RateWindow counts (two per namespace,
// 36 KB), and for the rest three tiers of slots (10 s x 6, 1 min x 60, 1 h x 24), each holding
// two TopCounters of 32 channels and a 1 KiB DistinctCounter of users, about 250 KB in all.
// Thread-safe (one mutex; callers record once per publication or heartbeat).
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controlplane/stats/distinct_counter.h"
#include "controlplane/stats/rate_window.h"
#include "controlplane/stats/top_counter.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

class StatsWindows {
 public:
  static constexpr std::array<int64_t, 4> kWindowSeconds = {30, 60, 3600, 86400};
  // Namespaces counted apart; past it, "(other)".
  static constexpr size_t kMaxNamespaces = 256;
  static constexpr size_t kTopChannels = 10;
  static constexpr size_t kChannelsPerSlot = 32;

  // `started_s`: when counting began (Unix seconds); a window longer than the time since is
  // reported incomplete rather than extrapolated.
  explicit StatsWindows(int64_t started_s);

  // A publication accepted; `ns` as ControlMetrics::namespaceLabel names it; `user` the
  // publishing client's (empty for backends).
  void recordPublication(std::string_view ns, std::string_view channel, std::string_view user,
                         int64_t now_s);
  // What a node reported delivering since its previous heartbeat: in all, per namespace label
  // (as namespaceLabel names them) and for its busiest channels.
  struct Deliveries {
    uint64_t total = 0;
    std::vector<std::pair<std::string_view, uint64_t>> namespaces;
    std::vector<std::pair<std::string_view, uint64_t>> channels;
  };
  void recordDeliveries(const Deliveries& d, int64_t now_s);
  // A user with a connection now (herald-control notes every connected user every 10 s).
  void recordActiveUser(std::string_view user, int64_t now_s);

  // Adds one StatsWindow per kWindowSeconds to `resp`.
  void fill(int64_t now_s, herald::v1::ClusterStatsResponse* resp) const;
  // The same, with each window's active users as HyperLogLog registers, for the other replicas.
  void announce(int64_t now_s, herald::v1::ReplicaInfo* self) const;
  // The cluster's windows from every replica's announcement (--engine redis): counts summed,
  // namespaces and channels summed by name, users merged. `complete` is the first replica's.
  static void merge(const std::vector<const herald::v1::ReplicaInfo*>& replicas,
                    herald::v1::ClusterStatsResponse* resp);

 private:
  struct Slot {
    int64_t stamp = -1;                      // which span of the tier it counts
    TopCounter channels{kChannelsPerSlot};   // by publications
    TopCounter delivered{kChannelsPerSlot};  // by deliveries
    DistinctCounter users;
  };
  struct Tier {
    int64_t span_s;
    std::vector<Slot> slots;
  };
  Slot& current(Tier& tier, int64_t now_s);
  // The tier that covers `seconds` and how many of its slots make the window.
  const Tier& tierFor(int64_t seconds, int64_t* slots) const;
  // One window, with its users' sketch in `*users`; under mu_. `announcing`: lists the
  // channels with most deliveries too (another replica may hold their publications).
  void fillWindowLocked(int64_t now_s, int64_t seconds, bool announcing, herald::v1::StatsWindow* w,
                        DistinctCounter* users) const;
  struct NamespaceWindows {
    RateWindow publications;
    RateWindow deliveries;
  };
  NamespaceWindows& namespaceLocked(std::string_view ns);

  const int64_t started_s_;
  mutable std::mutex mu_;
  RateWindow publications_;
  RateWindow deliveries_;
  std::map<std::string, NamespaceWindows, std::less<>> by_namespace_;
  std::array<Tier, 3> tiers_;
};

}  // namespace herald::control
