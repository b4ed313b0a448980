#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/peer_channel.h"
#include "controlplane/serial_worker.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

/**
 * Presence and subscriber counts across the replicas of a cluster: a query asked through one
 * replica goes to every other live replica (PeerChannel), each asks its own nodes (as
 * PresenceBroker does locally) and sends back their replies. Nothing is stored, so a dead
 * replica or node leaves no ghost entry: it just does not answer, and the caller is told how
 * many did not. Messages: "q<id>\n<asker>\n<PresenceQuery>" and
 * "r<id>\n<nodes asked>\n" followed by "<length>\n<PresenceReply>" per node.
 */
class ReplicaPresence {
 public:
  // Runs a query on this replica's nodes: their replies, and how many nodes were asked.
  using LocalAsk = std::function<std::vector<herald::v1::PresenceReply>(
      const herald::v1::PresenceQuery& query, uint32_t* nodes_asked)>;

  struct Gathered {
    std::vector<herald::v1::PresenceReply> replies;  // one per node that answered
    uint32_t nodes_asked = 0;                        // on the replicas that answered
    uint32_t replicas_asked = 0;                     // other replicas
    uint32_t replicas_unanswered = 0;
  };

  // Most node replies taken from one replica's answer, and most bytes of one answer.
  static constexpr size_t kMaxRepliesPerReplica = 4096;
  // (Redis cuts a subscriber whose pending output passes 8 MB for a minute, or 32 MB at once.)
  static constexpr size_t kMaxAnswerBytes = 4 << 20;
  // A query not started within this of its arrival is dropped: its asker (who waits 2 s)
  // would give up before our nodes' answers (up to 1.5 s) came.
  static constexpr std::chrono::milliseconds kAnswerUseful{500};

  // `local` must return within the time a peer waits (ControlService::kPeerAnswerWithin).
  ReplicaPresence(PeerChannel& peers, std::string self, LocalAsk local);
  ~ReplicaPresence();
  ReplicaPresence(const ReplicaPresence&) = delete;
  ReplicaPresence& operator=(const ReplicaPresence&) = delete;

  // Sends `query` to `replicas` (other replicas' ids), runs `meanwhile` (the local ask), then
  // waits until each answered or `timeout` passed.
  Gathered ask(const herald::v1::PresenceQuery& query, const std::vector<std::string>& replicas,
               std::chrono::milliseconds timeout, const std::function<void()>& meanwhile);

  // A message from a peer ("q" or "r": the PeerChannel handler hands those here).
  void onMessage(const std::string& payload);

 private:
  struct Pending {
    uint32_t expected = 0;  // replicas sent to that listen
    uint32_t answered = 0;
    Gathered gathered;
  };
  void answer(uint64_t id, const std::string& asker, const herald::v1::PresenceQuery& query);
  void onAnswer(uint64_t id, const std::string& body);

  PeerChannel& peers_;
  const std::string self_;
  const LocalAsk local_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_;
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending_;
  // Peers' queries are answered off the receiving thread, four at a time (a node slow to
  // answer holds up only its worker); at most 16 wait for each.
  std::atomic<uint64_t> next_worker_{0};
  std::array<SerialWorker, 4> workers_{SerialWorker(16), SerialWorker(16), SerialWorker(16),
                                       SerialWorker(16)};
};

}  // namespace herald::control
