// libFuzzer target: messages between herald-control replicas (the pub/sub peer channel of
// --engine redis): presence queries and answers, user-count deltas, full lists and requests.
// Redis carries them, so anyone who can PUBLISH there can send them: any bytes are dropped or
// taken within bounds, never a crash, never an entry beyond the documented limits.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controlplane/replica_presence.h"
#include "controlplane/replica_user_counts.h"

namespace {

using namespace herald::control;

class NullPeers : public PeerChannel {
 public:
  void listen(const std::string&, Handler) override {}
  herald::Result<uint64_t> send(const std::string&, const std::string&) override {
    return uint64_t{0};
  }
};

struct Target {
  NullPeers peers;
  size_t applied = 0;
  ReplicaPresence presence{peers, "self", [](const herald::v1::PresenceQuery&, uint32_t* asked) {
                             *asked = 0;
                             return std::vector<herald::v1::PresenceReply>{};
                           }};
  ReplicaUserCounts counts{
      peers,
      "self",
      [this](const std::string& replica, const ReplicaUserCounts::Counts& list, bool) {
        if (replica.empty() || replica.size() > 256 ||
            list.size() > ReplicaUserCounts::kMaxUsersPerReplica) {
          __builtin_trap();
        }
        for (const auto& [user, n] : list) {
          if (user.find('\n') != std::string::npos) {
            __builtin_trap();  // a line break would have split the entry
          }
        }
        applied += list.size();
      },
      [](const std::string&) {},
      [] { return std::vector<std::pair<std::string, uint64_t>>{}; },
      []() -> std::optional<std::vector<std::string>> { return std::nullopt; }};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target target;  // one worker thread for the whole run
  const std::string payload(reinterpret_cast<const char*>(data), size);
  if (!payload.empty() && (payload[0] == 'q' || payload[0] == 'r')) {
    target.presence.onMessage(payload);
  } else {
    target.counts.onMessage(payload);
  }
  return 0;
}
