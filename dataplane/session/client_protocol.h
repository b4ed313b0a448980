#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/tag_filter.h"

namespace herald::node {

// The client → server JSON frames of docs/protocol.md, parsed. Knows nothing of sockets.
enum class CommandType { kSubscribe, kUnsubscribe, kPing, kPublish, kAuthenticate, kRpc };

// Most channels one subscribe/unsubscribe frame may name.
inline constexpr size_t kMaxChannelsPerCommand = 100;

// Longest token the node hands to the JWT library (real tokens are well under 2 KiB); longer
// ones are refused unread, so token parsing costs are bounded whatever the frame limit is.
inline constexpr size_t kMaxTokenBytes = 8192;

// Where a client is in a stream: the last offset it received, in `epoch` ("" when it has no
// epoch yet: then offset 0 asks for everything retained).
struct StreamPosition {
  uint64_t offset = 0;
  std::string epoch;
};

// How a subscription receives its channel (docs/protocol.md "Tags and filters",
// "Conflation", "Smoothing"): only what `filter` matches (null: everything), at the pace
// `conflate_ms` (common/conflation.h: 0 each one as it comes; N at most one per N ms; or,
// from its namespace, bursts spread over an interval).
struct SubscriptionShape {
  TagFilterPtr filter;
  uint32_t conflate_ms = 0;
  bool plain() const { return filter == nullptr && conflate_ms == 0; }
};

struct ClientCommand {
  CommandType type = CommandType::kPing;
  std::vector<std::string> channels;  // subscribe, unsubscribe
  // subscribe: channels to recover from a position, in the order of `channels`.
  std::vector<std::pair<std::string, StreamPosition>> since;
  std::optional<StreamPosition> user_since;  // authenticate: recover the personal stream
  std::string channel;                       // publish
  std::string data;                          // publish, rpc: JSON text exactly as sent
  std::string method;                        // rpc
  std::string event;                         // publish: optional event name
  std::string idempotency_key;               // publish: optional, makes a retry safe
  std::string token;                         // authenticate
  SubscriptionShape shape;  // subscribe: optional filter and conflate_ms, for every channel
  std::map<std::string, std::string> tags;  // publish: optional
};

struct ParsedFrame {
  Status status;               // not ok: answer with an error frame carrying `id`
  std::optional<uint64_t> id;  // echoed in the reply; set whenever it could be read
  bool too_deep = false;       // refused for nesting deeper than kMaxJsonDepth (counted)
  ClientCommand command;
};

// What a connection may send: before it has an identity, only `authenticate` is read past
// its type (anything else is refused with `unauthorized`).
enum class FrameScope { kAny, kAuthenticateOnly };

// Parses one text frame. Never throws and never recurses on the input; any input gets a
// result. Nesting deeper than kMaxJsonDepth (common/json_text.h) is refused.
ParsedFrame parseClientFrame(std::string_view text, FrameScope scope = FrameScope::kAny);

// The `id` of a frame that will not be acted on (rate-limited), without reading the rest.
std::optional<uint64_t> peekFrameId(std::string_view text);

// Splits the `?subscribe=a,b` query value (already URL-decoded) into channel names.
std::vector<std::string> splitChannelList(std::string_view list);

// Decodes %XX and '+' of a URL query component; returns nullopt on a malformed escape.
std::optional<std::string> urlDecode(std::string_view text);

// Returns the value of `key` in a query string ("a=1&b=2"), URL-decoded, or nullopt.
std::optional<std::string> queryParam(std::string_view query, std::string_view key);

// Parses the `user_since=OFFSET[:EPOCH]` query value; nullopt when malformed.
std::optional<StreamPosition> parseStreamPosition(std::string_view text);

// Server → client frames (except `message`, see frame_builder.h).
std::string buildConnectedFrame(const std::string& client, const std::string& node,
                                const std::string& user, uint32_t ping_interval_s,
                                const std::vector<std::string>& subscribed,
                                std::optional<uint64_t> id = std::nullopt);
std::string buildReplyFrame(std::optional<uint64_t> id, const std::vector<std::string>& channels);
std::string buildErrorFrame(std::optional<uint64_t> id, ErrorCode code, const std::string& message);
std::string buildPongFrame(std::optional<uint64_t> id);
// The answer to a client publish: where the publication landed (`duplicate`: an earlier
// publish with the same idempotency key did, and this one was not published again).
std::string buildPublishReplyFrame(std::optional<uint64_t> id, uint64_t offset,
                                   const std::string& epoch, bool duplicate);

// The backend's answer to a client `rpc` (`data`: valid JSON text, spliced in as it is), or
// the application error it chose (code checked by validHookErrorCode).
std::string buildRpcReplyFrame(uint64_t id, std::string_view data);
std::string buildRpcErrorFrame(uint64_t id, const std::string& code, const std::string& message);

// The end of a recovery: `missed` publications were sent before it; live ones follow.
// `channel` empty means the user's personal stream (then `user` is named). `reason` is set
// only when the recovery could not be attempted (e.g. "unavailable").
struct RecoveryOutcome {
  std::string channel;
  std::string user;
  bool recovered = false;
  uint64_t offset = 0;
  std::string epoch;
  uint64_t missed = 0;
  std::string reason;
};
std::string buildRecoveryFrame(const RecoveryOutcome& outcome);

}  // namespace herald::node
