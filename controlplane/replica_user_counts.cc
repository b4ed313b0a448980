#include "controlplane/replica_user_counts.h"

#include <algorithm>
#include <set>

#include "common/logging.h"
#include "common/stream_keys.h"
#include "controlplane/peer_message_text.h"

namespace herald::control {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kFlushEvery = std::chrono::milliseconds(20);
constexpr auto kLivenessEvery = std::chrono::milliseconds(1000);
constexpr auto kAskAgainAfter = std::chrono::milliseconds(2000);
constexpr auto kHeartbeatEvery = std::chrono::milliseconds(1000);
constexpr size_t kMaxReplicaId = 256;

using peer_text::readLine;
using peer_text::toNumber;

}  // namespace

ReplicaUserCounts::ReplicaUserCounts(PeerChannel& peers, std::string self, Apply apply,
                                     Forget forget, LocalUsers local, LiveReplicas live)
    : peers_(peers),
      self_(std::move(self)),
      instance_(newRandomEpoch()),
      apply_(std::move(apply)),
      forget_(std::move(forget)),
      local_(std::move(local)),
      live_(std::move(live)) {}

ReplicaUserCounts::~ReplicaUserCounts() { stop(); }

void ReplicaUserCounts::start() {
  thread_ = std::thread([this] { loop(); });
}

void ReplicaUserCounts::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void ReplicaUserCounts::localChanged(const std::string& user, uint64_t connections) {
  std::lock_guard<std::mutex> lock(mu_);
  dirty_[user] = connections;
}

std::string ReplicaUserCounts::header(char kind, uint64_t seq) const {
  return std::string(1, kind) + self_ + "\n" + instance_ + "\n" + std::to_string(seq) + "\n";
}

bool ReplicaUserCounts::parseHeader(const std::string& payload, Header* header) {
  size_t at = 1;
  std::string seq_text;
  if (!readLine(payload, &at, &header->from, kMaxReplicaId) || header->from.empty() ||
      !readLine(payload, &at, &header->instance, 64) || !readLine(payload, &at, &seq_text, 20) ||
      !toNumber(seq_text, &header->seq)) {
    return false;
  }
  if (payload[0] == 'f') {
    // "<part>\n<parts>\n": a full list comes in parts of kUsersPerPart.
    std::string part;
    std::string parts;
    if (!readLine(payload, &at, &part, 10) || !readLine(payload, &at, &parts, 10) ||
        !toNumber(part, &header->part) || !toNumber(parts, &header->parts) || header->part == 0 ||
        header->part > header->parts || header->parts > kMaxUsersPerReplica / kUsersPerPart + 1) {
      return false;
    }
  }
  header->body = at;
  return true;
}

bool ReplicaUserCounts::parseCounts(const std::string& payload, size_t at, Counts* counts) {
  std::string line;
  while (at < payload.size()) {
    if (counts->size() >= kMaxUsersPerReplica || !readLine(payload, &at, &line, 300)) {
      return false;
    }
    const size_t space = line.find(' ');
    uint64_t count = 0;
    if (space == std::string::npos || !toNumber(line.substr(0, space), &count)) {
      return false;
    }
    counts->emplace_back(line.substr(space + 1),
                         static_cast<uint32_t>(std::min<uint64_t>(count, UINT32_MAX)));
  }
  return true;
}

template <typename Entries>
std::vector<std::string> ReplicaUserCounts::bodies(const Entries& entries) {
  std::vector<std::string> out(1);
  size_t lines = 0;
  for (const auto& [user, count] : entries) {
    if (lines == kUsersPerPart || out.back().size() >= kPartBytes) {
      out.emplace_back();
      lines = 0;
    }
    out.back() += std::to_string(count) + " " + user + "\n";
    ++lines;
  }
  return out;
}

std::vector<std::string> ReplicaUserCounts::fullList(uint64_t seq) const {
  const auto parts = bodies(local_());
  std::vector<std::string> messages;
  for (size_t p = 0; p < parts.size(); ++p) {
    messages.push_back(header('f', seq) + std::to_string(p + 1) + "\n" +
                       std::to_string(parts.size()) + "\n" + parts[p]);
  }
  return messages;
}

void ReplicaUserCounts::wantFullLocked(const std::string& replica, Peer& peer) {
  peer.synced = false;
  peer.asked = Clock::now();
  if (to_ask_.size() < kMaxReplicas) {
    to_ask_.push_back(replica);
  }
  cv_.notify_all();
}

void ReplicaUserCounts::onMessage(const std::string& payload) {
  if (payload.empty()) {
    return;
  }
  if (payload[0] == 's') {
    std::string from;
    size_t at = 1;
    if (readLine(payload, &at, &from, kMaxReplicaId) && !from.empty() && from != self_) {
      std::lock_guard<std::mutex> lock(mu_);
      // Only replicas the directory announced (a full list costs a message as big as our
      // users): anyone who can PUBLISH on Redis could otherwise make us send it in a loop.
      if (full_wanted_.size() < kMaxReplicas &&
          (live_known_.empty() || live_known_.count(from) != 0)) {
        full_wanted_.push_back(from);
      }
      cv_.notify_all();
    }
    return;
  }
  if (payload[0] != 'u' && payload[0] != 'f' && payload[0] != 'h') {
    return;
  }
  Header h;
  if (!parseHeader(payload, &h) || h.from == self_) {
    return;  // malformed, or our own broadcast (not parsed further)
  }
  Counts counts;
  if (!parseCounts(payload, h.body, &counts)) {
    return;
  }
  const std::string& from = h.from;
  const uint64_t seq = h.seq;
  // One message at a time, decisions and applies together: messages of one replica can come
  // on two subscriber threads (deltas to all, full lists to us, on different Redis instances),
  // and an older full list must not be applied after a newer delta. UserConnections is called
  // under apply_mu_ only, never under mu_ (it calls localChanged under its own lock).
  std::lock_guard<std::mutex> applying(apply_mu_);
  bool forget = false;
  std::vector<std::pair<Counts, bool>> apply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (peers_state_.count(from) == 0 && peers_state_.size() >= kMaxReplicas) {
      return;
    }
    Peer& peer = peers_state_[from];
    if (peer.instance != h.instance) {
      forget = !peer.instance.empty();  // it restarted: what it had is gone
      peer = Peer{};
      peer.instance = h.instance;
      if (payload[0] != 'f') {
        wantFullLocked(from, peer);
      }
    }
    if (payload[0] == 'h') {
      // A heartbeat: a last delta newer than what we applied was lost.
      if (peer.synced && seq > peer.seq) {
        peer.held.clear();
        peer.held_users = 0;
        wantFullLocked(from, peer);
      }
      return;
    }
    bool complete = false;
    if (payload[0] == 'f') {
      // Parts in order, all of one list, make it whole; anything else starts over.
      if (h.part == 1) {
        peer.assembling.clear();
        peer.assembling_seq = seq;
        peer.next_part = 1;
      }
      if (h.part == peer.next_part && seq == peer.assembling_seq &&
          peer.assembling.size() + counts.size() <= kMaxUsersPerReplica) {
        peer.assembling.insert(peer.assembling.end(), std::make_move_iterator(counts.begin()),
                               std::make_move_iterator(counts.end()));
        ++peer.next_part;
        complete = h.part == h.parts;
      } else {
        peer.assembling.clear();
        peer.next_part = 0;
      }
      if (complete && peer.synced && seq < peer.seq) {
        complete = false;  // older than deltas already applied (a second answer, late)
        peer.assembling.clear();
      }
    }
    if (complete) {
      peer.synced = true;
      peer.seq = seq;
      apply.emplace_back(std::move(peer.assembling), true);
      peer.assembling.clear();
      peer.next_part = 0;
      std::sort(peer.held.begin(), peer.held.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto& [held_seq, delta] : peer.held) {
        if (held_seq <= peer.seq) {
          continue;
        }
        if (held_seq != peer.seq + 1) {
          wantFullLocked(from, peer);
          break;
        }
        peer.seq = held_seq;
        apply.emplace_back(std::move(delta), false);
      }
      peer.held.clear();
      peer.held_users = 0;
    } else if (payload[0] == 'f') {
      // A part of a full list: waits for the rest.
    } else if (!peer.synced) {
      if (peer.held.size() < kMaxHeldDeltas &&
          peer.held_users + counts.size() <= kMaxUsersPerReplica) {
        peer.held_users += counts.size();
        peer.held.emplace_back(seq, std::move(counts));
      } else {
        peer.held.clear();  // too far behind: the full list, asked again, covers it
        peer.held_users = 0;
        wantFullLocked(from, peer);
      }
    } else if (seq == peer.seq + 1) {
      peer.seq = seq;
      apply.emplace_back(std::move(counts), false);
    } else if (seq > peer.seq + 1) {
      peer.held_users = counts.size();
      peer.held.clear();
      peer.held.emplace_back(seq, std::move(counts));
      wantFullLocked(from, peer);  // a gap: messages were lost
    }
  }
  if (forget) {
    forget_(from);
  }
  for (const auto& [delta, full] : apply) {
    apply_(from, delta, full);
  }
}

void ReplicaUserCounts::checkLiveness() {
  auto live = live_();
  if (!live) {
    return;  // Redis away: keep what we have
  }
  std::set<std::string> alive(live->begin(), live->end());
  alive.erase(self_);
  std::vector<std::string> gone;
  std::lock_guard<std::mutex> applying(apply_mu_);  // a forget is ordered with the applies
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_known_ = alive;
    for (auto it = peers_state_.begin(); it != peers_state_.end();) {
      if (alive.count(it->first) == 0) {
        gone.push_back(it->first);
        it = peers_state_.erase(it);
      } else {
        ++it;
      }
    }
    const auto now = Clock::now();
    for (const auto& replica : alive) {
      Peer& peer = peers_state_[replica];
      if (!peer.synced && now - peer.asked >= kAskAgainAfter) {
        wantFullLocked(replica, peer);
      }
    }
  }
  for (const auto& replica : gone) {
    forget_(replica);
  }
}

void ReplicaUserCounts::loop() {
  auto next_liveness = Clock::now();
  auto last_sent = Clock::time_point{};
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kFlushEvery);
    if (stopping_) {
      break;
    }
    std::map<std::string, uint64_t> dirty;
    dirty.swap(dirty_);
    std::vector<std::string> wanted;
    wanted.swap(full_wanted_);
    std::vector<std::string> asks;
    asks.swap(to_ask_);
    lock.unlock();
    // Many changes at once (a node's Hello) go as several deltas, each with its own sequence
    // number (seq_ is the loop thread's alone).
    const auto chunks = dirty.empty() ? std::vector<std::string>{} : bodies(dirty);
    const auto now = Clock::now();
    if (!chunks.empty() || now - last_sent >= kHeartbeatEvery) {
      // With nothing new, a heartbeat: our instance and sequence, so that a replica that
      // missed our last delta, or our restart, notices without waiting for our next change.
      last_sent = now;
      if (chunks.empty()) {
        (void)peers_.send("*", header('h', seq_));  // the seq of our last delta
      }
      for (const auto& body : chunks) {
        // Lost (Redis away): the others see the gap at our next message and ask for it all.
        (void)peers_.send("*", header('u', ++seq_) + body);
      }
    }
    const uint64_t seq = seq_;
    if (!wanted.empty()) {
      // Taken after `seq`: it holds at least what the deltas up to `seq` said.
      const auto messages = fullList(seq);
      std::sort(wanted.begin(), wanted.end());
      wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
      for (const auto& replica : wanted) {
        for (const auto& message : messages) {
          (void)peers_.send(replica, message);
        }
      }
    }
    std::sort(asks.begin(), asks.end());
    asks.erase(std::unique(asks.begin(), asks.end()), asks.end());
    for (const auto& replica : asks) {
      (void)peers_.send(replica, "s" + self_ + "\n");
    }
    if (Clock::now() >= next_liveness) {
      checkLiveness();
      next_liveness = Clock::now() + kLivenessEvery;
    }
    lock.lock();
  }
}

}  // namespace herald::control
