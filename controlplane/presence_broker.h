#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "controlplane/delivery_router.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

/**
 * Scatter-gather of PresenceQuery over NodeLink: nodes own their connections, so presence
 * and subscriber counts are asked for when needed rather than streamed all the time. ask()
 * blocks its caller (a Control RPC) until every asked node answered or the deadline passed.
 */
class PresenceBroker {
 public:
  struct Gathered {
    std::vector<herald::v1::PresenceReply> replies;
    uint32_t asked = 0;  // nodes the query went to; asked - replies.size() did not answer
  };
  using Route = std::function<uint32_t(const DeliveryRouter::Visit&)>;

  // Sends `query` (request_id is set here) to the nodes `route` visits.
  Gathered ask(herald::v1::PresenceQuery query, const Route& route,
               std::chrono::milliseconds timeout);
  // A node's reply (NodeLinkService); replies to unknown or finished queries are dropped.
  void onReply(const herald::v1::PresenceReply& reply);

 private:
  struct Pending {
    uint32_t expected = 0;
    std::vector<herald::v1::PresenceReply> replies;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending_;
};

}  // namespace herald::control
