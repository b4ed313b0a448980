#pragma once
// One Server-Sent Events stream (GET /sse, docs/protocol.md "Server-Sent Events"): a client
// session like a WebSocket's, whose frames go out as events on a deferred HTTP response of
// websocketpp's connection. Included by the WebSocket listener (websocket_listener_impl.h),
// which accepts the request; everything here runs on the shard's thread.

#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include "common/json_text.h"
#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/session/client_session.h"
#include "dataplane/sse/sse_events.h"
#include "dataplane/transport/client_transport.h"
#include "dataplane/transport/transport_handler.h"
#include "dataplane/transport/upgrade_request.h"

namespace herald::node {

// How long a closing stream may take to read its last events before it is cut.
constexpr auto kSseCloseGrace = std::chrono::seconds(30);
// Bytes a client may send on its stream (it has nothing to say there) before it is cut.
constexpr size_t kSseMaxInboundBytes = 4096;
// Most bytes one write takes: a reader that makes progress completes writes well within a
// ping interval, so only one that makes none is taken for stuck.
constexpr size_t kSseMaxWriteBytes = 64 * 1024;

// The request's headers and body are read once the session has opened: free them (websocketpp
// keeps them for the connection's life, up to 16 KB of headers and 64 KiB of body).
template <typename Connection>
void dropRequest(Connection& con) {
  auto& request = const_cast<typename Connection::request_type&>(con.get_request());
  std::vector<std::string> names;
  for (const auto& header : request.get_headers()) {
    names.push_back(header.first);
  }
  for (const auto& name : names) {
    request.remove_header(name);
  }
  request.set_body(std::string());
}

// The `type` of a frame the session wrote (its own JSON: valid, so findMembers applies).
inline std::string_view frameType(std::string_view frame) {
  static constexpr std::string_view kNames[] = {"type"};
  std::string_view type;
  if (!findMembers(frame, kNames, 1, &type)) {
    return {};
  }
  return type;
}

template <typename Connection>
class SseStream final : public ClientTransport,
                        public std::enable_shared_from_this<SseStream<Connection>> {
 public:
  SseStream(std::shared_ptr<Connection> con, TransportHandler& handler, SseOrigin origin)
      : con_(std::move(con)),
        handler_(handler),
        grace_timer_(con_->get_raw_socket().get_executor()),
        target_(con_->get_resource()),
        origin_(std::move(origin)) {}

  // Takes over the request (websocketpp writes nothing more) and opens the session; the
  // 200 and the events follow once it is greeted, an HTTP error if it is refused first.
  void start(std::string ip) {
    con_->defer_http_response();
    self_ = this->shared_from_this();  // until finish(): nothing else may hold it while waiting
    read();                            // a client that leaves while the backend decides is seen
    const ConnectQuery query = parseConnectQuery(target_);
    const size_t channels = query.subscribe ? query.subscribe->size() : 0;
    id_channels_ = query.subscribe.value_or(std::vector<std::string>());
    id_entries_.assign(1 + channels, std::string());
    std::string last_id = con_->get_request_header("Last-Event-ID");  // the newest, as the session
    if (last_id.empty() && query.last_event_id) {
      last_id = *query.last_event_id;
    }
    if (auto entries = parseLastEventId(last_id, 1 + channels)) {
      // Positions not delivered again on this stream stay in its ids.
      std::copy(entries->begin(), entries->end(), id_entries_.begin());
    }
    if (id_entries_[0].empty() && query.user_since) {  // the personal stream's, from the URL
      id_entries_[0] = std::to_string(query.user_since->offset) +
                       (query.user_since->epoch.empty() ? "" : ":" + query.user_since->epoch);
    }
    // herald.js asks for refusals as `close` events: a 401's code is hidden from EventSource.
    const size_t q = target_.find('?');
    close_events_ = q != std::string::npos &&
                    queryParam(std::string_view(target_).substr(q + 1), "close_events") == "1";
    handler_.count(TransportEvent::kSseOpened);
    handler_.opened(session_, *this, ip);
    dropRequest(*con_);
    if (state_ == State::kWaiting && session_.awaitingAuthenticate()) {
      session_.close(kCloseUnauthorized, kSseTokenRequired);
    }
  }

  // ---- ClientTransport
  bool isOpen() const override { return state_ == State::kWaiting || state_ == State::kStreaming; }
  size_t bufferedBytes() const override { return queued_bytes_; }

  size_t writeFrame(const FramePtr& frame) override {
    if (!isOpen()) {
      return 0;
    }
    size_t bytes = 0;
    for (const auto& event : frame->sseEvents()) {
      Chunk chunk;
      if (event.position && trackPosition(*event.position)) {
        chunk.owned = "id: " + formatEventId(id_entries_) + "\n";
      }
      chunk.keep = frame;
      chunk.shared = event.data;
      bytes += push(std::move(chunk));
    }
    kick();
    return bytes;
  }

  size_t writeText(const std::string& text) override {
    if (!isOpen()) {
      return 0;
    }
    if (state_ == State::kWaiting) {
      const std::string_view type = frameType(text);
      if (type == "\"connected\"") {
        startStreaming();
      } else if (type == "\"error\"") {
        last_error_ = text;  // the body of an HTTP refusal, if one follows
      }
    }
    Chunk chunk;
    appendSseData(&chunk.owned, text);
    const size_t bytes = push(std::move(chunk));
    kick();
    return bytes;
  }

  void closeWith(uint16_t code, const std::string& reason) override {
    if (!isOpen()) {
      return;
    }
    close_code_ = code;
    close_reason_ = reason;
    if (state_ == State::kWaiting) {
      refuse(code, reason);
      return;
    }
    // The last event says why, as a WebSocket close frame would; then the response ends.
    Chunk chunk;
    appendSseData(&chunk.owned, buildCloseFrame(code, reason));
    push(std::move(chunk));
    state_ = State::kClosing;
    grace_timer_.expires_after(kSseCloseGrace);
    grace_timer_.async_wait([self = this->shared_from_this()](const asio::error_code& ec) {
      if (!ec) {
        self->finish();  // it did not read its last events in time
      }
    });
    kick();
  }

  void sendPing() override {
    if (state_ != State::kStreaming) {
      return;
    }
    // No pong exists here: a stream whose writes made no progress over a whole ping
    // interval is stuck (the WebSocket's 4015).
    if (writing_ && writes_done_ == writes_at_last_ping_) {
      asio::post(con_->get_raw_socket().get_executor(),
                 [self = this->shared_from_this()] { self->pingTimedOut(); });
      return;
    }
    writes_at_last_ping_ = writes_done_;
    if (queue_.empty()) {
      Chunk chunk;
      // A named event: keeps proxies from timing the stream out, and tells herald.js the path
      // is alive (EventSource hides comments; onmessage does not see named events).
      chunk.owned = "event: heartbeat\ndata: {}\n\n";
      push(std::move(chunk));
      kick();
    }
  }

  void setInboundLimit(size_t) override {}  // a stream takes no frames
  const std::string& requestTarget() const override { return target_; }
  std::string requestHeader(const std::string& name) const override {
    return con_->get_request_header(name);
  }
  std::optional<std::string> cookieToken() const override {
    return origin_.cookieToken(con_->get_request_header("Cookie"));
  }

 private:
  enum class State { kWaiting, kStreaming, kClosing, kRefused, kDone };

  // Bytes to write: `owned` (an id line, a server frame), then `shared` (a publication's
  // event, the same bytes for every stream, kept alive by `keep`).
  struct Chunk {
    std::string owned;
    FramePtr keep;
    std::string_view shared;
    size_t size() const { return owned.size() + shared.size(); }
  };

  static std::string jsonString(const std::string& text) {
    return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // The position an event moves its stream to; false for a stream the ids do not carry
  // (a channel subscribed by the server, not in ?subscribe=).
  bool trackPosition(const MessagePosition& position) {
    size_t slot = 0;
    if (!position.user_stream) {
      auto it = std::find(id_channels_.begin(), id_channels_.end(), position.stream);
      if (it == id_channels_.end()) {
        return false;
      }
      slot = 1 + static_cast<size_t>(it - id_channels_.begin());
    }
    id_entries_[slot] = std::to_string(position.offset) + ":" + position.epoch;
    return true;
  }

  size_t push(Chunk chunk) {
    const size_t bytes = chunk.size();
    queued_bytes_ += bytes;
    queue_.push_back(std::move(chunk));
    return bytes;
  }

  void startStreaming() {
    state_ = State::kStreaming;
    // A reconnect delay spread over 1-4 s, so that a node's streams do not all come back in
    // the same instant after it restarts.
    std::uniform_int_distribution<int> jitter(1000, 4000);
    std::string head =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache, no-store\r\n"
        "X-Accel-Buffering: no\r\n"
        "Connection: close\r\n";
    for (const auto& [name, value] : origin_.corsHeaders()) {
      head += name + ": " + value + "\r\n";
    }
    head += "\r\nretry: " + std::to_string(jitter(rng())) + "\n\n";
    Chunk chunk;
    chunk.owned = std::move(head);
    queued_bytes_ += chunk.size();
    queue_.push_front(std::move(chunk));  // before anything the session wrote while waiting
  }

  static std::mt19937& rng() {
    thread_local std::mt19937 generator(std::random_device{}());
    return generator;
  }

  // Refused before it was greeted: an HTTP error, which EventSource does not retry (401,
  // 403), or for a refusal that passes a stream that ends at once and says when to retry.
  void refuse(uint16_t code, const std::string& reason) {
    state_ = State::kRefused;
    queue_.clear();
    queued_bytes_ = 0;
    con_->replace_header("Cache-Control", "no-store");
    for (const auto& [name, value] : origin_.corsHeaders()) {
      con_->replace_header(name, value);
    }
    websocketpp::lib::error_code ec;
    if (closeIsTransient(code) || close_events_) {
      std::uniform_int_distribution<int> jitter(2000, 8000);
      con_->set_status(websocketpp::http::status_code::ok);
      con_->replace_header("Content-Type", "text/event-stream; charset=utf-8");
      con_->set_body(transientRefusalBody(code, reason, jitter(rng())));
      con_->send_http_response(ec);
      asio::post(con_->get_raw_socket().get_executor(),
                 [self = this->shared_from_this()] { self->finish(); });
      return;
    }
    con_->set_status(static_cast<websocketpp::http::status_code::value>(httpStatusForClose(code)));
    con_->replace_header("Content-Type", "application/json");
    con_->set_body(!last_error_.empty()
                       ? last_error_
                       : "{\"type\":\"error\",\"code\":\"" +
                             std::string(code == kCloseUnauthorized || code == kCloseTokenExpired
                                             ? "unauthorized"
                                             : "unavailable") +
                             "\",\"message\":" + jsonString(reason) + "}");
    con_->send_http_response(ec);  // websocketpp writes it and closes the connection
    asio::post(con_->get_raw_socket().get_executor(),
               [self = this->shared_from_this()] { self->finish(); });
  }

  // Writes what is queued, one write in flight, many chunks per write.
  void kick() {
    if (writing_ || queue_.empty() || (state_ != State::kStreaming && state_ != State::kClosing)) {
      return;
    }
    writing_ = true;
    buffers_.clear();
    batch_ = 0;
    size_t batch_bytes = 0;
    for (const Chunk& chunk : queue_) {
      if (batch_ == kMaxBatch || (batch_ > 0 && batch_bytes + chunk.size() > kSseMaxWriteBytes)) {
        break;
      }
      batch_bytes += chunk.size();
      if (!chunk.owned.empty()) {
        buffers_.emplace_back(chunk.owned.data(), chunk.owned.size());
      }
      if (!chunk.shared.empty()) {
        buffers_.emplace_back(chunk.shared.data(), chunk.shared.size());
      }
      ++batch_;
    }
    asio::async_write(con_->get_socket(), buffers_,
                      [self = this->shared_from_this()](const asio::error_code& ec, size_t) {
                        self->written(ec);
                      });
  }

  void written(const asio::error_code& ec) {
    writing_ = false;
    ++writes_done_;
    if (state_ == State::kDone) {
      return;
    }
    if (ec) {
      finish();
      return;
    }
    for (size_t i = 0; i < batch_; ++i) {
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
    }
    if (state_ == State::kClosing && queue_.empty()) {
      finish();  // the close event is out
      return;
    }
    kick();
  }

  // Reads (and discards) what the client sends, to learn when it goes.
  void read() {
    con_->get_socket().async_read_some(
        asio::buffer(inbound_),
        [self = this->shared_from_this()](const asio::error_code& ec, size_t n) {
          if (self->state_ == State::kDone) {
            return;
          }
          self->inbound_bytes_ += n;
          if (ec || self->inbound_bytes_ > kSseMaxInboundBytes) {
            if (self->close_code_ == 0) {
              self->close_code_ = ec ? 1006 : 1002;
              self->close_reason_ = ec ? "client went away" : "the client sent on its stream";
            }
            self->finish();
            return;
          }
          self->read();
        });
  }

  void pingTimedOut() {
    if (state_ == State::kStreaming) {
      handler_.pingTimedOut(session_);
    }
  }

  // The end, reported once: the session leaves the shard, the socket closes.
  void finish() {
    if (state_ == State::kDone) {
      return;
    }
    const bool refused = state_ == State::kRefused;
    state_ = State::kDone;
    grace_timer_.cancel();
    if (!refused) {
      asio::error_code ignored;
      con_->get_raw_socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      con_->get_raw_socket().close(ignored);
    }
    handler_.count(TransportEvent::kSseClosed);
    handler_.closed(session_, close_code_ == 0 ? 1006 : close_code_, close_reason_);
    // The queue stays until the last handler lets go of this stream: a write in flight may
    // still point into it. Every caller of finish() holds its own reference.
    self_.reset();
  }

  static constexpr size_t kMaxBatch = 64;

  std::shared_ptr<Connection> con_;
  TransportHandler& handler_;
  asio::steady_timer grace_timer_;
  std::string target_;
  SseOrigin origin_;
  std::shared_ptr<SseStream> self_;  // alive from start() to finish()
  ClientSession session_;
  State state_ = State::kWaiting;
  std::deque<Chunk> queue_;
  size_t queued_bytes_ = 0;
  std::vector<asio::const_buffer> buffers_;
  size_t batch_ = 0;
  bool writing_ = false;
  uint64_t writes_done_ = 0;
  uint64_t writes_at_last_ping_ = 0;
  size_t inbound_bytes_ = 0;
  char inbound_[256];
  std::vector<std::string> id_channels_;  // ?subscribe=, in order: the ids' channel entries
  std::vector<std::string> id_entries_;   // [0] the personal stream, then one per channel
  std::string last_error_;                // an error frame written before the greeting
  uint16_t close_code_ = 0;
  std::string close_reason_;
  bool close_events_ = false;  // ?close_events=1: every refusal as a `close` event
};

}  // namespace herald::node
