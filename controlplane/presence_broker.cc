#include "controlplane/presence_broker.h"

namespace herald::control {

PresenceBroker::Gathered PresenceBroker::ask(herald::v1::PresenceQuery query, const Route& route,
                                             std::chrono::milliseconds timeout) {
  auto pending = std::make_shared<Pending>();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    pending_[id] = pending;
  }
  query.set_request_id(id);
  auto message = std::make_shared<herald::v1::ControlMessage>();
  *message->mutable_presence_query() = std::move(query);
  ControlMessagePtr shared = std::move(message);
  uint32_t sent = 0;
  route([&](NodeSink& node) { sent += node.send(shared) ? 1 : 0; });

  Gathered out;
  out.asked = sent;
  std::unique_lock<std::mutex> lock(mu_);
  pending->expected = sent;
  cv_.wait_for(lock, timeout, [&] { return pending->replies.size() >= pending->expected; });
  pending_.erase(id);
  out.replies = std::move(pending->replies);
  return out;
}

void PresenceBroker::onReply(const herald::v1::PresenceReply& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(reply.request_id());
  if (it == pending_.end()) {
    return;
  }
  it->second->replies.push_back(reply);
  cv_.notify_all();
}

}  // namespace herald::control
