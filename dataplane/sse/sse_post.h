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
  SsePost(std::shared_ptr<Connection> con, TransportHandler& handler)
      : con_(std::move(con)),
        handler_(handler),
        timer_(con_->get_raw_socket().get_executor()),
        target_(con_->get_resource()),
        body_(con_->get_request_body()),
        origin_(con_->get_request_header("Origin")) {}

  // Checks the frame, then opens its session; the frame goes in once the session is greeted.
  void start(std::string ip) {
    con_->defer_http_response();
    handler_.count(TransportEvent::kSsePost);
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
      session_.close(kCloseUnauthorized,
                     "a token is required: ?token=, Authorization: Bearer or the herald_token "
                     "cookie");
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
      } else if (type == "\"error\"") {
        last_error_ = text;
      }
      return text.size();
    }
    if ((type == "\"reply\"" || type == "\"rpc\"" || type == "\"error\"") && members[1] == id_) {
      const int status = type == "\"error\"" && members[2].size() >= 2
                             ? httpStatusForErrorCode(members[2].substr(1, members[2].size() - 2))
                             : 200;
      close_code_ = 1000;
      close_reason_ = "answered";
      respond(status, text);
    }
    return text.size();
  }

  void closeWith(uint16_t code, const std::string& reason) override {
    if (state_ == State::kWaiting) {
      close_code_ = code;
      close_reason_ = reason;
      respond(httpStatusForClose(code),
              !last_error_.empty()
                  ? last_error_
                  : buildErrorFrame(std::nullopt,
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
    return con_->get_request_header(name);
  }

 private:
  enum class State { kWaiting, kAnswered, kDone };

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
    if (!origin_.empty() && origin_.find_first_of("\r\n") == std::string::npos) {
      con_->replace_header("Access-Control-Allow-Origin", origin_);
      con_->replace_header("Access-Control-Allow-Credentials", "true");
      con_->replace_header("Vary", "Origin");
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
  std::string origin_;
  std::string id_;  // the frame's id as JSON text; empty when it had none
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
