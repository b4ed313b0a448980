// PreparedFrame's Server-Sent Events form (fanout/prepared_frame.h).
#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/sse/sse_events.h"

namespace herald::node {

const std::vector<PreparedFrame::SseEvent>& PreparedFrame::sseEvents() const {
  std::call_once(sse_once_, [this] {
    const auto add = [this](std::string_view payload) {
      SseEvent event;
      event.data.reserve(payload.size() + 16);
      appendSseData(&event.data, payload);
      event.position = messagePosition(payload);
      sse_events_.push_back(std::move(event));
    };
    if (!message->get_header().empty()) {
      add(message->get_payload());  // one frame: its header apart from its payload
      return;
    }
    for (std::string_view payload : splitPreparedFrames(message->get_payload())) {
      add(payload);  // a joined run (joinFrames): whole frames back to back
    }
  });
  return sse_events_;
}

}  // namespace herald::node
