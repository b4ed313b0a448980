// libFuzzer target: what a Server-Sent Events client controls before its stream opens (a
// Last-Event-ID, an Authorization header, a Cookie header) and the event framing of any
// payload. Crashes, leaks and broken invariants are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/sse/sse_events.h"
#include "dataplane/transport/upgrade_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // A Last-Event-ID that parses formats back to itself, with no more entries than allowed.
  const size_t max_entries = size == 0 ? 1 : 1 + data[0] % 60;
  if (auto entries = herald::node::parseLastEventId(input, max_entries)) {
    if (entries->size() > max_entries || herald::node::formatEventId(*entries) != input) {
      __builtin_trap();
    }
  }

  // An event's data lines never hold a line break, and rejoin to the payload (line breaks
  // normalised to \n): nothing a payload holds can forge a field or end the event early.
  std::string event;
  herald::node::appendSseData(&event, input);
  if (event.size() < 8 || event.compare(event.size() - 2, 2, "\n\n") != 0) {
    __builtin_trap();
  }
  std::string rejoined;
  size_t start = 0;
  for (;;) {
    const size_t eol = event.find('\n', start);
    const std::string_view line(event.data() + start, eol - start);
    if (line.empty()) {
      if (eol != event.size() - 1) {
        __builtin_trap();  // a blank line before the end would dispatch early
      }
      break;
    }
    if (line.rfind("data: ", 0) != 0 || line.find('\r') != std::string_view::npos) {
      __builtin_trap();
    }
    if (start != 0) {
      rejoined.push_back('\n');
    }
    rejoined.append(line.substr(6));
    start = eol + 1;
  }
  std::string normalised;
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\r') {
      normalised.push_back('\n');
      if (i + 1 < input.size() && input[i + 1] == '\n') {
        ++i;
      }
    } else {
      normalised.push_back(input[i]);
    }
  }
  if (rejoined != normalised) {
    __builtin_trap();
  }

  // Readers of bytes the node made, fed anything: bounded, never past the input.
  if (auto position = herald::node::messagePosition(input)) {
    if (position->stream.size() > size || position->epoch.size() > size) {
      __builtin_trap();
    }
  }
  size_t total = 0;
  for (std::string_view part : herald::node::splitPreparedFrames(input)) {
    if (part.data() < input.data() || part.data() + part.size() > input.data() + size) {
      __builtin_trap();
    }
    total += part.size();
  }
  if (total > size) {
    __builtin_trap();
  }
  (void)herald::node::bearerToken(input);
  (void)herald::node::cookieValue(input, herald::node::kTokenCookie);
  return 0;
}
