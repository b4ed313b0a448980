#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::node {

// The pieces of the Server-Sent Events transport that are plain text (docs/protocol.md
// "Server-Sent Events"): framing a protocol frame as an event, the stream positions an event
// id carries, and the HTTP status a refused stream answers with. Knows nothing of sockets, so
// the unit tests and sse_fuzzer drive it directly.

// Appends `payload` as one event's data ("data: LINE\n" per line, then the blank line that
// dispatches it). A frame's JSON holds a raw line break only as whitespace between tokens
// (never inside a string), so splitting there keeps the JSON intact: EventSource joins the
// lines with "\n".
void appendSseData(std::string* out, std::string_view payload);

// Where a `message` frame built by frame_builder.cc sits in its stream: its channel (or, for
// the personal stream, its user), offset and epoch. nullopt for any other frame, and for a
// broadcast (it has no position).
struct MessagePosition {
  bool user_stream = false;
  std::string stream;  // the channel, or the user
  uint64_t offset = 0;
  std::string epoch;
};
std::optional<MessagePosition> messagePosition(std::string_view frame);

// The payloads of prepared WebSocket frames written back to back (a joined run of
// publications: unmasked, unfragmented text frames); stops at the first incomplete frame.
std::vector<std::string_view> splitPreparedFrames(std::string_view bytes);

// An event id: one entry for the personal stream, then one per channel of `?subscribe=` in
// its order, joined by ','; an entry is empty (no position yet) or OFFSET:EPOCH.
// `Last-Event-ID: ,12:aB3,7:aB3` resumes two channels. Longest id the node reads:
inline constexpr size_t kMaxLastEventIdBytes = 8192;

// The entries of a Last-Event-ID (or `?last_event_id=`), each "" or a valid OFFSET[:EPOCH]
// (client_protocol.h parseStreamPosition); nullopt when malformed, longer than
// kMaxLastEventIdBytes, or with more than `max_entries` entries.
std::optional<std::vector<std::string>> parseLastEventId(std::string_view text, size_t max_entries);

// The id line's value for these entries (the inverse of parseLastEventId).
std::string formatEventId(const std::vector<std::string>& entries);

// The HTTP status of a stream or request closed before it started (`code` a close code of
// docs/protocol.md): 401 for 4001/4002, 403 for 4004/4005, 429 for 4029/4030, 503 otherwise.
int httpStatusForClose(uint16_t code);

// EventSource gives a stream up for good on any status but 200. So a refusal that passes (the
// node is starting, full, draining or restarting; too many attempts) is a 200 whose stream
// ends at once: `retry: RETRY_MS`, then a `close` event with `code` and `reason`. True for
// the close codes that pass: 1012, 1013, 4029, 4030.
bool closeIsTransient(uint16_t code);
std::string transientRefusalBody(uint16_t code, const std::string& reason, int retry_ms);

// The `close` frame that ends a stream (an SSE stream has no close frame of its own).
std::string buildCloseFrame(uint16_t code, const std::string& reason);

// What a request's Origin allows, decided once per request: the CORS headers of the answer,
// and whether the herald_token cookie may stand for the token. A page of another origin may
// read answers with its cookies only when its origin is in a set allowed_origins list; with no
// list, any page may read them without cookies (a token in the URL or a header), as any page
// may open a WebSocket.
struct SseOrigin {
  std::string origin;   // the Origin header (checked: no CR or LF), may be empty
  bool listed = false;  // in a set allowed_origins list
  bool same = false;    // the node's own origin (as the Host header names it)
  bool cookieAllowed() const { return origin.empty() || same || listed; }
  // The herald_token cookie of `cookie_header`, where cookieAllowed() (another site's page:
  // its visitor's cookie is not its token).
  std::optional<std::string> cookieToken(const std::string& cookie_header) const;
  // Header name and value pairs for the answer; none for a request without an Origin.
  std::vector<std::pair<std::string, std::string>> corsHeaders() const;
};

// Why an SSE stream or POST without a token is refused (4001): it cannot send `authenticate`.
inline constexpr const char* kSseTokenRequired =
    "a token is required: ?token=, Authorization: Bearer or the herald_token cookie";

// Whether `origin` ("https://host:port") names `host` (the Host header, "host:port").
bool sameOrigin(std::string_view origin, std::string_view host);

// The HTTP status of a protocol error frame's `code` (docs/protocol.md error codes).
int httpStatusForErrorCode(std::string_view code);

}  // namespace herald::node
