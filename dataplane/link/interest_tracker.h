#pragma once

#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * Node-wide interest, fed by shards when one of their channels gains a first or loses a last
 * subscriber (and likewise for users), read by the NodeLink client. Only first/last events
 * reach it, so its lock stays off the per-message path. Deltas are computed against what was
 * last reported, so a subscribe and unsubscribe between two reports cancel out.
 */
class InterestTracker {
 public:
  void channelAdded(const std::string& channel) { change(channels_, channel, +1); }
  void channelRemoved(const std::string& channel) { change(channels_, channel, -1); }
  void userAdded(const std::string& user) { change(users_, user, +1); }
  void userRemoved(const std::string& user) { change(users_, user, -1); }
  // Every authenticated connection opened (+1) or closed (-1), for the per-user limit.
  void userConnections(const std::string& user, int delta);

  // Full interest for a Hello; everything is then considered reported.
  void takeFull(std::vector<std::string>* channels, std::vector<std::string>* users,
                google::protobuf::RepeatedPtrField<herald::v1::UserCount>* user_counts = nullptr);
  // Changes since the last report; false when there are none.
  bool takeDelta(herald::v1::InterestDelta* delta);

  // Called (outside the lock) when a change becomes pending.
  void setNotifier(std::function<void()> notify);
  // Changes take `order` shared, so that the NodeLink writer, holding it exclusively, takes
  // this tracker's delta and the ClientEventLog's as of one instant (before start; outlives us).
  void setOrderLock(std::shared_mutex* order) { order_ = order; }

  size_t channels() const;
  size_t users() const;

 private:
  struct Set {
    std::unordered_map<std::string, int> counts;  // shards holding it
    std::unordered_set<std::string> reported;
    std::unordered_set<std::string> dirty;
  };
  void change(Set& set, const std::string& key, int by);
  static void takeSetFull(Set& set, std::vector<std::string>* out);
  static void takeSetDelta(Set& set, google::protobuf::RepeatedPtrField<std::string>* added,
                           google::protobuf::RepeatedPtrField<std::string>* removed);

  std::shared_mutex* order_ = nullptr;
  mutable std::mutex mu_;
  Set channels_;
  Set users_;
  std::function<void()> notify_;
  std::unordered_map<std::string, uint32_t> user_connections_;
  std::unordered_set<std::string> dirty_user_counts_;
};

}  // namespace herald::node
