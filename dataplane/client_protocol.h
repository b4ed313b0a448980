#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace herald::node {

// The client → server JSON frames of docs/protocol.md, parsed. Knows nothing of sockets.
enum class CommandType { kSubscribe, kUnsubscribe, kPing, kPublish, kAuthenticate };

// Most channels one subscribe/unsubscribe frame may name.
inline constexpr size_t kMaxChannelsPerCommand = 100;

struct ClientCommand {
  CommandType type = CommandType::kPing;
  std::vector<std::string> channels;  // subscribe, unsubscribe
  std::string channel;                // publish
  std::string data;                   // publish: JSON text, re-serialised compactly
  std::string token;                  // authenticate
};

struct ParsedFrame {
  Status status;               // not ok: answer with an error frame carrying `id`
  std::optional<uint64_t> id;  // echoed in the reply; set whenever it could be read
  ClientCommand command;
};

// Parses one text frame. Never throws; any input gets a result.
ParsedFrame parseClientFrame(std::string_view text);

// Splits the `?subscribe=a,b` query value (already URL-decoded) into channel names.
std::vector<std::string> splitChannelList(std::string_view list);

// Decodes %XX and '+' of a URL query component; returns nullopt on a malformed escape.
std::optional<std::string> urlDecode(std::string_view text);

// Returns the value of `key` in a query string ("a=1&b=2"), URL-decoded, or nullopt.
std::optional<std::string> queryParam(std::string_view query, std::string_view key);

// Server → client frames (except `message`, see frame_builder.h).
std::string buildConnectedFrame(const std::string& client, const std::string& node,
                                const std::string& user, uint32_t ping_interval_s,
                                const std::vector<std::string>& subscribed,
                                std::optional<uint64_t> id = std::nullopt);
std::string buildReplyFrame(std::optional<uint64_t> id, const std::vector<std::string>& channels);
std::string buildErrorFrame(std::optional<uint64_t> id, ErrorCode code, const std::string& message);
std::string buildPongFrame(std::optional<uint64_t> id);

}  // namespace herald::node
