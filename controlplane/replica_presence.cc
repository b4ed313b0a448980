#include "controlplane/replica_presence.h"

#include <algorithm>
#include <random>

#include "controlplane/peer_message_text.h"

namespace herald::control {

namespace {

constexpr size_t kMaxReplicaId = 256;

using peer_text::readNumber;

}  // namespace

ReplicaPresence::ReplicaPresence(PeerChannel& peers, std::string self, LocalAsk local)
    : peers_(peers),
      self_(std::move(self)),
      local_(std::move(local)),
      // Random start: a restarted replica with the same id ignores answers meant for the old.
      // Below 2^62: an id has at most 19 digits, as the reader takes (peer_message_text.h).
      next_id_((std::random_device{}() | (uint64_t{std::random_device{}()} << 32)) &
               ((uint64_t{1} << 62) - 1)) {}

ReplicaPresence::~ReplicaPresence() = default;

ReplicaPresence::Gathered ReplicaPresence::ask(const herald::v1::PresenceQuery& query,
                                               const std::vector<std::string>& replicas,
                                               std::chrono::milliseconds timeout,
                                               const std::function<void()>& meanwhile) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> targets;
  for (const auto& replica : replicas) {
    if (replica != self_) {
      targets.push_back(replica);
    }
  }
  auto pending = std::make_shared<Pending>();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    // Counted before sending: a quick answer may come back before the last send returns.
    pending->expected = static_cast<uint32_t>(targets.size());
    pending->gathered.replicas_asked = static_cast<uint32_t>(targets.size());
    pending_[id] = pending;
  }
  const std::string message =
      "q" + std::to_string(id) + "\n" + self_ + "\n" + query.SerializeAsString();
  for (const auto& replica : targets) {
    auto receivers = peers_.send(replica, message);
    if (!receivers.isOk() || receivers.value() == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      --pending->expected;  // nobody listens as that replica (it died): no answer will come
    }
  }
  if (meanwhile) {
    meanwhile();
  }
  std::unique_lock<std::mutex> lock(mu_);
  // `>=`: a send that failed after all may still be answered.
  cv_.wait_until(lock, deadline, [&] { return pending->answered >= pending->expected; });
  pending_.erase(id);
  Gathered out = std::move(pending->gathered);
  out.replicas_unanswered = out.replicas_asked - pending->answered;
  return out;
}

void ReplicaPresence::onMessage(const std::string& payload) {
  if (payload.empty()) {
    return;
  }
  size_t at = 1;
  uint64_t id = 0;
  if (!readNumber(payload, &at, &id)) {
    return;
  }
  if (payload[0] == 'r') {
    onAnswer(id, payload.substr(at));
    return;
  }
  if (payload[0] != 'q') {
    return;
  }
  const size_t end = payload.find('\n', at);
  if (end == std::string::npos || end == at || end - at > kMaxReplicaId) {
    return;
  }
  std::string asker = payload.substr(at, end - at);
  auto query = std::make_shared<herald::v1::PresenceQuery>();
  if (!query->ParseFromArray(payload.data() + end + 1,
                             static_cast<int>(payload.size() - end - 1))) {
    return;
  }
  // Full queue: the asker counts this replica as unanswered.
  // Answered by one of a few workers, and only while the asker still waits.
  const auto received = std::chrono::steady_clock::now();
  auto& worker = workers_[next_worker_.fetch_add(1) % workers_.size()];
  worker.push([this, id, asker = std::move(asker), query, received] {
    if (std::chrono::steady_clock::now() - received < kAnswerUseful) {
      answer(id, asker, *query);
    }
  });
}

void ReplicaPresence::answer(uint64_t id, const std::string& asker,
                             const herald::v1::PresenceQuery& query) {
  uint32_t asked = 0;
  const auto replies = local_(query, &asked);
  std::string message = "r" + std::to_string(id) + "\n" + std::to_string(asked) + "\n";
  for (const auto& reply : replies) {
    std::string bytes = reply.SerializeAsString();
    if (message.size() + bytes.size() > kMaxAnswerBytes) {
      // Past the bound (a pub/sub message that large would cost the asker its subscription):
      // the node's connections are counted, its entries left out.
      herald::v1::PresenceReply counted;
      counted.set_request_id(reply.request_id());
      counted.set_connections(reply.connections());
      *counted.mutable_counts() = reply.counts();
      counted.set_truncated(true);
      bytes = counted.SerializeAsString();
      if (message.size() + bytes.size() > kMaxAnswerBytes) {
        break;
      }
    }
    message += std::to_string(bytes.size()) + "\n" + bytes;
  }
  (void)peers_.send(asker, message);  // lost: the asker counts us as unanswered
}

void ReplicaPresence::onAnswer(uint64_t id, const std::string& body) {
  if (body.size() > kMaxAnswerBytes) {
    return;
  }
  size_t at = 0;
  uint64_t asked = 0;
  if (!readNumber(body, &at, &asked)) {
    return;
  }
  std::vector<herald::v1::PresenceReply> replies;
  while (at < body.size() && replies.size() < kMaxRepliesPerReplica) {
    uint64_t length = 0;
    if (!readNumber(body, &at, &length) || length > body.size() - at) {
      return;  // malformed: the whole answer is dropped
    }
    herald::v1::PresenceReply reply;
    if (!reply.ParseFromArray(body.data() + at, static_cast<int>(length))) {
      return;
    }
    replies.push_back(std::move(reply));
    at += length;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second->answered >= it->second->gathered.replicas_asked) {
      return;  // finished, or not ours
    }
    auto& pending = *it->second;
    ++pending.answered;
    pending.gathered.nodes_asked += static_cast<uint32_t>(std::min<uint64_t>(asked, 1u << 20));
    for (auto& reply : replies) {
      pending.gathered.replies.push_back(std::move(reply));
    }
  }
  cv_.notify_all();
}

}  // namespace herald::control
