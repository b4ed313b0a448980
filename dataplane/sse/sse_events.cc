#include "dataplane/sse/sse_events.h"

#include <nlohmann/json.hpp>

#include "dataplane/session/client_protocol.h"
#include "dataplane/transport/upgrade_request.h"

namespace herald::node {

namespace {

// Reads a JSON string starting at text[*pos] (the opening quote); advances past it. A flat
// string: nlohmann decodes its escapes without recursing.
std::optional<std::string> readJsonString(std::string_view text, size_t* pos) {
  if (*pos >= text.size() || text[*pos] != '"') {
    return std::nullopt;
  }
  size_t end = *pos + 1;
  while (end < text.size() && text[end] != '"') {
    end += text[end] == '\\' ? 2 : 1;
  }
  if (end >= text.size()) {
    return std::nullopt;
  }
  const auto value =
      nlohmann::json::parse(text.substr(*pos, end + 1 - *pos), nullptr, /*allow_exceptions=*/false);
  if (!value.is_string()) {
    return std::nullopt;
  }
  *pos = end + 1;
  return value.get<std::string>();
}

bool consume(std::string_view text, size_t* pos, std::string_view literal) {
  if (text.substr(*pos, literal.size()) != literal) {
    return false;
  }
  *pos += literal.size();
  return true;
}

}  // namespace

void appendSseData(std::string* out, std::string_view payload) {
  size_t start = 0;
  for (;;) {
    const size_t eol = payload.find_first_of("\r\n", start);
    out->append("data: ");
    out->append(payload.substr(start, eol == std::string_view::npos ? eol : eol - start));
    out->push_back('\n');
    if (eol == std::string_view::npos) {
      break;
    }
    start = eol + 1;
    if (payload[eol] == '\r' && start < payload.size() && payload[start] == '\n') {
      ++start;  // CRLF is one line break
    }
  }
  out->push_back('\n');
}

std::optional<MessagePosition> messagePosition(std::string_view frame) {
  // frame_builder.cc's layout: {"type":"message", then "channel" or "user", an optional
  // "event", then "offset" and "epoch" (absent for broadcasts and offset 0).
  size_t pos = 0;
  if (!consume(frame, &pos, "{\"type\":\"message\",\"")) {
    return std::nullopt;
  }
  MessagePosition out;
  if (consume(frame, &pos, "user\":")) {
    out.user_stream = true;
  } else if (!consume(frame, &pos, "channel\":")) {
    return std::nullopt;
  }
  auto stream = readJsonString(frame, &pos);
  if (!stream) {
    return std::nullopt;
  }
  out.stream = std::move(*stream);
  if (consume(frame, &pos, ",\"event\":") && !readJsonString(frame, &pos)) {
    return std::nullopt;
  }
  if (!consume(frame, &pos, ",\"offset\":")) {
    return std::nullopt;
  }
  size_t digits = 0;
  while (pos < frame.size() && frame[pos] >= '0' && frame[pos] <= '9' && digits < 20) {
    const uint64_t digit = static_cast<uint64_t>(frame[pos] - '0');
    if (out.offset > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    out.offset = out.offset * 10 + digit;
    ++pos;
    ++digits;
  }
  if (digits == 0 || !consume(frame, &pos, ",\"epoch\":")) {
    return std::nullopt;
  }
  auto epoch = readJsonString(frame, &pos);
  if (!epoch) {
    return std::nullopt;
  }
  out.epoch = std::move(*epoch);
  return out;
}

std::vector<std::string_view> splitPreparedFrames(std::string_view bytes) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (bytes.size() - pos >= 2) {
    const auto b1 = static_cast<uint8_t>(bytes[pos + 1]) & 0x7f;  // a server's frames: no mask
    size_t header = 2;
    uint64_t length = b1;
    if (b1 == 126 || b1 == 127) {
      const size_t width = b1 == 126 ? 2 : 8;
      if (bytes.size() - pos < 2 + width) {
        break;
      }
      length = 0;
      for (size_t i = 0; i < width; ++i) {
        length = (length << 8) | static_cast<uint8_t>(bytes[pos + 2 + i]);
      }
      header += width;
    }
    if (length > bytes.size() - pos - header) {
      break;
    }
    out.push_back(bytes.substr(pos + header, static_cast<size_t>(length)));
    pos += header + static_cast<size_t>(length);
  }
  return out;
}

std::optional<std::vector<std::string>> parseLastEventId(std::string_view text,
                                                         size_t max_entries) {
  if (text.size() > kMaxLastEventIdBytes) {
    return std::nullopt;
  }
  std::vector<std::string> entries;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string_view entry = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (entries.size() >= max_entries) {
      return std::nullopt;
    }
    if (!entry.empty() && !parseStreamPosition(entry)) {
      return std::nullopt;
    }
    entries.emplace_back(entry);
    if (comma == std::string_view::npos) {
      return entries;
    }
    start = comma + 1;
  }
}

std::string formatEventId(const std::vector<std::string>& entries) {
  std::string out;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out.append(entries[i]);
  }
  return out;
}

int httpStatusForClose(uint16_t code) {
  switch (code) {
    case 4001:
    case 4002:
      return 401;
    case 4004:
    case 4005:
      return 403;
    case 4029:
    case 4030:
      return 429;
    default:
      return 503;
  }
}

std::vector<std::pair<std::string, std::string>> SseOrigin::corsHeaders() const {
  if (origin.empty()) {
    return {};
  }
  if (listed) {
    return {{"Access-Control-Allow-Origin", origin},
            {"Access-Control-Allow-Credentials", "true"},
            {"Vary", "Origin"}};
  }
  return {{"Access-Control-Allow-Origin", "*"}};
}

std::optional<std::string> SseOrigin::cookieToken(const std::string& cookie_header) const {
  if (!cookieAllowed()) {
    return std::nullopt;
  }
  return cookieValue(cookie_header, kTokenCookie);
}

bool sameOrigin(std::string_view origin, std::string_view host) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.substr(0, scheme.size()) == scheme) {
      return !host.empty() && origin.substr(scheme.size()) == host;
    }
  }
  return false;
}

bool closeIsTransient(uint16_t code) {
  return code == 1012 || code == 1013 || code == 4029 || code == 4030;
}

std::string buildCloseFrame(uint16_t code, const std::string& reason) {
  return nlohmann::json{{"type", "close"}, {"code", code}, {"reason", reason}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string transientRefusalBody(uint16_t code, const std::string& reason, int retry_ms) {
  std::string out = "retry: " + std::to_string(retry_ms) + "\n\n";
  appendSseData(&out, buildCloseFrame(code, reason));
  return out;
}

int httpStatusForErrorCode(std::string_view code) {
  if (code == "bad_request") return 400;
  if (code == "unauthorized") return 401;
  if (code == "permission_denied") return 403;
  if (code == "not_found") return 404;
  if (code == "too_large") return 413;
  if (code == "limit_exceeded" || code == "rate_limited") return 429;
  if (code == "unavailable") return 503;
  return 500;
}

}  // namespace herald::node
