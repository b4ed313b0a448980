#pragma once
// One frame POSTed to /sse (docs/protocol.md "Server-Sent Events"): a `publish` or `rpc` from
// a client whose stream has no way up. It runs in a short-lived session of its own, with the
// token, permissions, limits and hooks a WebSocket's frame gets, and the session's answer
// (`reply`, `rpc` or `error`) is the HTTP response. Included by the WebSocket listener
// (websocket_listener_impl.h); runs on the shard's thread.

#include <chrono>
#include <memory>
#include <string>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "common/json_text.h"
#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/session/client_protocol.h"
#include "dataplane/session/client_session.h"
#include "dataplane/sse/sse_events.h"
#include "dataplane/sse/sse_stream.h"
#include "dataplane/transport/client_transport.h"
#include "dataplane/transport/transport_handler.h"

namespace herald::node {

// Longest a POSTed frame waits for its answer (the control plane's and the backend's own
// deadlines end it sooner; this only guards against an answer that never comes).
constexpr auto kSsePostTimeout = std::chrono::seconds(30);

template <typename Connection>
class SsePost final : public ClientTransport,
                      public std::enable_shared_from_this<SsePost<Connection>> {
 public:
  SsePost(std::shared_ptr<Connection> con, TransportHandler& handler, SseOrigin origin)
      : con_(std::move(con)),
        handler_(handler),
        timer_(con_->get_raw_socket().get_executor()),
        target_(tokenOnly(con_->get_resource())),
        origin_(std::move(origin)) {
    // The body moves here (websocketpp would keep its copy for the connection's life).
    auto& request = const_cast<typename Connection::request_type&>(con_->get_request());
    body_ = request.get_body();
    request.set_body(std::string());
  }

  // Checks the frame, then opens its session; the frame goes in once the session is greeted.
  // `frame_limit`: max_inbound_frame_bytes, as for a WebSocket frame.
  void start(std::string ip, size_t frame_limit) {
    con_->defer_http_response();
    handler_.count(TransportEvent::kSsePost);
    if (body_.size() > frame_limit) {
      respond(413, buildErrorFrame(std::nullopt, ErrorCode::kTooLarge,
                                   "the frame is larger than max_inbound_frame_bytes (" +
                                       std::to_string(frame_limit) + ")"));
      return;
    }
    const ParsedFrame parsed = parseClientFrame(body_);
    if (!parsed.status.isOk()) {
      respond(httpStatusForErrorCode(errorCodeName(parsed.status.code())),
              buildErrorFrame(parsed.id, parsed.status.code(), parsed.status.message()));
      return;
    }
    if (parsed.command.type != CommandType::kPublish && parsed.command.type != CommandType::kRpc) {
      respond(400, buildErrorFrame(parsed.id, ErrorCode::kBadRequest,
                                   "POST /sse takes a publish or an rpc frame; subscribe with "
                                   "GET /sse?subscribe="));
      return;
    }
    if (parsed.id) {
      id_ = std::to_string(*parsed.id);
      frame_id_ = parsed.id;
    }
    timer_.expires_after(kSsePostTimeout);
    timer_.async_wait([self = this->shared_from_this()](const asio::error_code& ec) {
      if (!ec && self->state_ == State::kWaiting) {
        self->session_.close(kCloseServiceRestart, "no answer in time");
      }
    });
    opened_ = true;
    handler_.opened(session_, *this, ip);
    if (state_ == State::kWaiting && !greeted_ && session_.awaitingAuthenticate()) {
      session_.close(kCloseUnauthorized, kSseTokenRequired);
    }
  }

  // ---- ClientTransport
  bool isOpen() const override { return state_ == State::kWaiting; }
  size_t bufferedBytes() const override { return 0; }
  size_t writeFrame(const FramePtr&) override { return 0; }  // its user's messages: not here

  size_t writeText(const std::string& text) override {
    if (state_ != State::kWaiting) {
      return 0;
    }
    static constexpr std::string_view kNames[] = {"type", "id", "code"};
    std::string_view members[3];
    if (!findMembers(text, kNames, 3, members)) {
      return 0;
    }
    const std::string_view type = members[0];
    if (!fed_) {
      if (type == "\"connected\"" && !greeted_) {
        greeted_ = true;  // the frame goes in from the loop, not from inside the greeting
        asio::post(con_->get_raw_socket().get_executor(),
                   [self = this->shared_from_this()] { self->feed(); });
      } else if (type == "\"error\"" && !greeted_) {
        last_error_ = text;  // why the session is about to be closed
      }
      return 0;  // not sent: only the answer is
    }
    if ((type == "\"reply\"" || type == "\"rpc\"" || type == "\"error\"") && members[1] == id_) {
      const int status = type == "\"error\"" && members[2].size() >= 2
                             ? httpStatusForErrorCode(members[2].substr(1, members[2].size() - 2))
                             : 200;
      close_code_ = 1000;
      close_reason_ = "answered";
      respond(status, text);
      return text.size();
    }
    return 0;
  }

  void closeWith(uint16_t code, const std::string& reason) override {
    if (state_ == State::kWaiting) {
      close_code_ = code;
      close_reason_ = reason;
      // The answer to this frame, whatever stopped it: it carries the frame's id.
      respond(httpStatusForClose(code),
              !last_error_.empty()
                  ? withFrameId(last_error_)
                  : buildErrorFrame(frame_id_,
                                    code == kCloseUnauthorized || code == kCloseTokenExpired
                                        ? ErrorCode::kUnauthorized
                                    : code == kCloseTooManyRequests || code == kCloseUserLimit
                                        ? ErrorCode::kRateLimited
                                        : ErrorCode::kUnavailable,
                                    reason));
    }
  }

  void sendPing() override {}
  void setInboundLimit(size_t) override {}
  const std::string& requestTarget() const override { return target_; }
  std::string requestHeader(const std::string& name) const override {
    // A POST resumes nothing (the connect hook may still read the headers it names).
    return name == "Last-Event-ID" ? std::string() : con_->get_request_header(name);
  }
  std::optional<std::string> cookieToken() const override {
    return origin_.cookieToken(con_->get_request_header("Cookie"));
  }

 private:
  enum class State { kWaiting, kAnswered, kDone };

  // An error frame the session wrote before the frame went in, with the frame's id.
  std::string withFrameId(const std::string& error) const {
    if (!frame_id_) {
      return error;
    }
    auto frame = nlohmann::json::parse(error, nullptr, /*allow_exceptions=*/false);
    if (!frame.is_object()) {
      return error;
    }
    frame["id"] = *frame_id_;
    return frame.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // The request target with only its token: a POST's session subscribes and recovers nothing
  // (no subscribe=, user_since= or last_event_id= work done for one frame).
  static std::string tokenOnly(const std::string& resource) {
    const size_t q = resource.find('?');
    if (q == std::string::npos) {
      return "/sse";
    }
    const std::string_view query(resource.c_str() + q + 1, resource.size() - q - 1);
    size_t start = 0;
    while (start <= query.size()) {
      const size_t amp = query.find('&', start);
      const std::string_view param =
          query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
      if (param.substr(0, 6) == "token=") {
        return "/sse?" + std::string(param);
      }
      if (amp == std::string_view::npos) {
        break;
      }
      start = amp + 1;
    }
    return "/sse";
  }

  void feed() {
    if (state_ == State::kWaiting) {
      fed_ = true;
      handler_.received(session_, body_, true);
    }
  }

  // The HTTP answer (once); the session leaves the shard from the loop.
  void respond(int status, const std::string& body) {
    if (state_ != State::kWaiting) {
      return;
    }
    state_ = State::kAnswered;
    timer_.cancel();
    con_->set_status(static_cast<websocketpp::http::status_code::value>(status));
    con_->replace_header("Content-Type", "application/json");
    con_->replace_header("Cache-Control", "no-store");
    for (const auto& [name, value] : origin_.corsHeaders()) {
      con_->replace_header(name, value);
    }
    con_->set_body(body);
    websocketpp::lib::error_code ec;
    con_->send_http_response(ec);
    if (opened_) {
      asio::post(con_->get_raw_socket().get_executor(),
                 [self = this->shared_from_this()] { self->finish(); });
    }
  }

  void finish() {
    if (state_ == State::kDone) {
      return;
    }
    state_ = State::kDone;
    handler_.closed(session_, close_code_ == 0 ? 1000 : close_code_, close_reason_);
  }

  std::shared_ptr<Connection> con_;
  TransportHandler& handler_;
  asio::steady_timer timer_;
  std::string target_;
  std::string body_;
  SseOrigin origin_;
  std::string id_;  // the frame's id as JSON text; empty when it had none
  std::optional<uint64_t> frame_id_;
  std::string last_error_;
  ClientSession session_;
  State state_ = State::kWaiting;
  bool opened_ = false;   // the session was opened (and must be reported closed)
  bool greeted_ = false;  // `connected` came: the frame goes in next
  bool fed_ = false;      // the frame is in: its answer is the response
  uint16_t close_code_ = 0;
  std::string close_reason_;
};

}  // namespace herald::node
