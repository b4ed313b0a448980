#pragma once
// The WebSocket transport: websocketpp's server on a shard's loop, translated into the
// TransportHandler's events. Knows nothing of channels, users or the protocol. A template on
// the websocketpp config, instantiated once per config in its own file
// (websocket_listener_ws.cc, websocket_listener_wss.cc) so the two heavy instantiations
// compile in parallel.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataplane/sse/sse_post.h"
#include "dataplane/sse/sse_stream.h"
#include "dataplane/transport/client_listener.h"
#include "dataplane/transport/ws_client_connection_impl.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node::websocket_listener_detail {

inline void setCork(int fd, bool on) {
  const int value = on ? 1 : 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
}

// The upgrade's headers are not read once the connection has opened (get_resource() reads the
// parsed URI), but websocketpp keeps them for the connection's life: free them.
template <typename Message>
void dropHeaders(const Message& message) {
  auto& headers = const_cast<Message&>(message);
  std::vector<std::string> names;
  for (const auto& header : headers.get_headers()) {
    names.push_back(header.first);
  }
  for (const auto& name : names) {
    headers.remove_header(name);
  }
}

template <typename Config>
class WebSocketListener final : public ClientListener {
  using WsServer = websocketpp::server<Config>;
  using Connection = typename WsServer::connection_type;
  using ConnectionPtr = typename WsServer::connection_ptr;

 public:
  WebSocketListener(asio::io_context& io, TransportHandler& handler,
                    const WebSocketOptions& options)
      : handler_(handler),
        inbound_limit_(options.inbound_limit),
        socket_window_(options.socket_window) {
    if constexpr (std::is_same_v<Config, WssConfig>) {
      // One TLS context per shard, loaded at start-up (throws on unreadable files).
      tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
      tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
      tls_->use_certificate_chain_file(options.tls_cert_file);
      tls_->use_private_key_file(options.tls_key_file, asio::ssl::context::pem);
      server_.set_tls_init_handler([tls = tls_](websocketpp::connection_hdl) { return tls; });
    }
    server_.init_asio(&io);
    server_.set_reuse_addr(true);
    server_.set_listen_backlog(4096);
    server_.set_open_handshake_timeout(options.handshake_timeout_ms);
    server_.set_pong_timeout(options.pong_timeout_ms);
    server_.set_max_message_size(inbound_limit_);
    server_.set_tcp_pre_bind_handler([](const auto& acceptor) {
      // Every shard binds the same port; the kernel spreads new connections over them.
      int one = 1;
      if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) !=
          0) {
        return websocketpp::lib::error_code(errno, std::generic_category());
      }
      return websocketpp::lib::error_code();
    });
    using websocketpp::connection_hdl;
    server_.set_validate_handler([this](connection_hdl h) { return onValidate(h); });
    server_.set_open_handler([this](connection_hdl h) { onOpen(h); });
    server_.set_close_handler([this](connection_hdl h) { onClosed(h); });
    server_.set_fail_handler([this](connection_hdl h) { onClosed(h); });
    server_.set_http_handler([this](connection_hdl h) { onHttp(h); });
    server_.set_message_handler([this](connection_hdl h, typename WsServer::message_ptr m) {
      handler_.received(connection(h)->session, m->get_payload(),
                        m->get_opcode() == websocketpp::frame::opcode::text);
    });
    server_.set_ping_handler([this](connection_hdl h, std::string) {
      // websocketpp answers every ping with a pong; a peer that pings without reading would
      // pile pongs up without bound. Answer only while the socket drains.
      if (connection(h)->get_buffered_amount() >= socket_window_) {
        handler_.count(TransportEvent::kPongWithheld);
        return false;
      }
      return true;
    });
    server_.set_pong_timeout_handler([this](connection_hdl h, std::string) {
      // The peer is gone or stuck: the shard closes it so its state is freed (4015).
      auto con = connection(h);
      if (con->get_state() == websocketpp::session::state::open) {
        handler_.pingTimedOut(con->session);
      }
    });
  }

  uint16_t listen(const std::string& host, uint16_t port) override {
    websocketpp::lib::error_code ec;
    asio::error_code aec;
    const auto address = asio::ip::make_address(host, aec);
    if (aec) {
      throw std::runtime_error("listen: '" + host + "' is not an IP address");
    }
    server_.listen(asio::ip::tcp::endpoint(address, port), ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
    }
    const auto local = server_.get_local_endpoint(aec);
    server_.start_accept(ec);
    if (ec) {
      throw std::runtime_error("cannot accept on " + host + ": " + ec.message());
    }
    return local.port();
  }

  void stopAccepting() override {
    websocketpp::lib::error_code ec;
    server_.stop_listening(ec);
  }

  void setInboundLimit(size_t bytes) override {
    inbound_limit_ = bytes;
    server_.set_max_message_size(bytes);
  }

  void setSocketWindow(size_t bytes) override { socket_window_ = bytes; }

 private:
  ConnectionPtr connection(websocketpp::connection_hdl h) { return server_.get_con_from_hdl(h); }

  static std::string peerAddress(Connection& con) {
    asio::error_code ec;
    const auto remote = con.get_raw_socket().remote_endpoint(ec);
    return ec ? std::string("?") : remote.address().to_string();
  }

  bool onValidate(websocketpp::connection_hdl hdl) {
    auto con = connection(hdl);
    // websocketpp made this connection before the accept, with the limit of that moment: a
    // change since then must reach it too.
    con->set_max_message_size(inbound_limit_);
    const std::string_view path = requestPath(con->get_resource());
    const std::string& origin = con->get_request_header("Origin");
    const std::string ip = peerAddress(*con);
    if (auto refusal = handler_.admit(UpgradeRequest{path, origin, ip})) {
      con->set_status(static_cast<websocketpp::http::status_code::value>(refusal->http_status));
      con->replace_header("Content-Type", "application/json");
      con->set_body(nlohmann::json{{"error", refusal->code}, {"message", refusal->message}}.dump());
      return false;
    }
    con->session.setPeerAddress(ip);  // read once: open() reuses it
    // Hold the 101 response in the kernel until the shard has queued `connected` behind it:
    // one segment and one client wake-up instead of two (onOpen uncorks).
    setCork(con->get_raw_socket().native_handle(), true);
    return true;
  }

  void onOpen(websocketpp::connection_hdl hdl) {
    auto ptr = connection(hdl);
    Connection* con = ptr.get();
    // websocketpp writes what the shard sends now (`connected`) from a handler it posts;
    // uncorking from a handler posted after it lets the 101 and that frame leave together.
    struct Uncork {
      WsServer& server;
      ConnectionPtr con;
      ~Uncork() {
        asio::post(server.get_io_service(), [con = std::move(con)] {
          setCork(con->get_raw_socket().native_handle(), false);
        });
      }
    } uncork{server_, ptr};
    con->reported_open = true;
    // Herald's only extension: an answer in the 101 means permessage-deflate was agreed.
    con->deflate = !con->get_response_header("Sec-WebSocket-Extensions").empty();
    if (con->deflate) {
      handler_.count(TransportEvent::kDeflateOpened);
    }
    // The session reads the connect hook's headers while it opens (ClientSession::open).
    handler_.opened(con->session, *con, con->session.peerAddress());
    dropRequest(*con);  // headers and any body (up to 64 KiB) of the upgrade request
    dropHeaders(con->get_response());
  }

  // Closes websocketpp sends by itself for bad frames (docs/protocol.md close codes).
  void countProtocolClose(websocketpp::close::status::value code) {
    switch (code) {
      case websocketpp::close::status::message_too_big:  // 1009
        handler_.count(TransportEvent::kFrameTooLarge);
        break;
      case websocketpp::close::status::invalid_payload:  // 1007, e.g. invalid UTF-8
        handler_.count(TransportEvent::kInvalidUtf8);
        break;
      case websocketpp::close::status::protocol_error:  // 1002
        handler_.count(TransportEvent::kProtocolViolation);
        break;
      default:
        break;
    }
  }

  void onClosed(websocketpp::connection_hdl hdl) {
    auto ptr = connection(hdl);
    Connection* con = ptr.get();
    if (!con->reported_open) {
      // A failed handshake: never opened. One that never finished in time is counted.
      if (con->get_ec() ==
          websocketpp::error::make_error_code(websocketpp::error::open_handshake_timeout)) {
        handler_.count(TransportEvent::kHandshakeTimeout);
      }
      return;
    }
    countProtocolClose(con->get_local_close_code());
    con->reported_open = false;
    if (con->deflate) {
      con->deflate = false;
      handler_.count(TransportEvent::kDeflateClosed);
    }
    handler_.closed(con->session, con->get_local_close_code(), con->get_local_close_reason());
  }

  void onHttp(websocketpp::connection_hdl hdl) {
    auto con = connection(hdl);
    const std::string& resource = con->get_resource();
    if (requestPath(resource) == "/sse") {
      serveSse(con);
      return;
    }
    const HttpResponse response =
        handler_.http(con->get_request().get_method(), resource.substr(0, resource.find('?')));
    con->set_status(static_cast<websocketpp::http::status_code::value>(response.status));
    con->replace_header("Content-Type", response.content_type);
    con->replace_header("Cache-Control", "no-store");
    con->set_body(response.body);
  }

  static void answer(Connection& con, int status, const std::string& body) {
    con.set_status(static_cast<websocketpp::http::status_code::value>(status));
    con.replace_header("Content-Type", "application/json");
    con.replace_header("Cache-Control", "no-store");
    con.set_body(body);
  }

  // GET /sse: a Server-Sent Events stream; POST /sse: one frame from such a client; OPTIONS:
  // a browser's CORS preflight for those (dataplane/sse/, docs/protocol.md).
  void serveSse(const ConnectionPtr& con) {
    const std::string& method = con->get_request().get_method();
    if (method != "GET" && method != "POST" && method != "OPTIONS") {
      con->replace_header("Allow", "GET, POST, OPTIONS");
      answer(
          *con, 405,
          R"j({"error":"method_not_allowed","message":"/sse takes GET (a stream) or POST (a frame)"})j");
      return;
    }
    if (method == "POST" &&
        con->get_request_header("Content-Type").rfind("application/json", 0) != 0) {
      // Also what keeps a cross-site form from posting: a JSON body needs a CORS preflight.
      answer(
          *con, 415,
          R"j({"error":"unsupported_media_type","message":"POST /sse takes Content-Type: application/json"})j");
      return;
    }
    if (method != "POST" && !con->get_request_body().empty()) {
      answer(*con, 400, R"j({"error":"bad_request","message":"only POST /sse takes a body"})j");
      return;
    }
    SseOrigin origin;
    origin.origin = con->get_request_header("Origin");
    if (origin.origin.find_first_of("\r\n") != std::string::npos) {
      answer(*con, 400, R"j({"error":"bad_request","message":"malformed Origin"})j");
      return;
    }
    origin.listed = !origin.origin.empty() && handler_.originListed(origin.origin);
    origin.same = sameOrigin(origin.origin, con->get_request_header("Host"));
    for (const auto& [name, value] : origin.corsHeaders()) {
      con->replace_header(name, value);  // a refusal too must be readable by the page
    }
    const std::string ip = peerAddress(*con);
    if (auto refusal = handler_.admit(UpgradeRequest{"/sse", origin.origin, ip, true})) {
      if (method == "GET" && (refusal->http_status == 429 || refusal->http_status == 503)) {
        // It passes (starting, full, draining; too many attempts): EventSource would give up
        // for good on the status, so the stream ends at once and says when to come back.
        con->set_status(websocketpp::http::status_code::ok);
        con->replace_header("Content-Type", "text/event-stream; charset=utf-8");
        con->replace_header("Cache-Control", "no-store");
        const bool limited = refusal->http_status == 429;
        con->set_body(
            transientRefusalBody(limited ? 4029 : 1013, refusal->message, limited ? 10000 : 2000));
        return;
      }
      answer(*con, refusal->http_status,
             nlohmann::json{{"error", refusal->code}, {"message", refusal->message}}.dump());
      return;
    }
    if (method == "OPTIONS") {
      con->set_status(websocketpp::http::status_code::no_content);
      if (!origin.origin.empty()) {
        con->replace_header("Access-Control-Allow-Methods", "GET, POST");
        con->replace_header("Access-Control-Allow-Headers",
                            "Content-Type, Authorization, Last-Event-ID");
        con->replace_header("Access-Control-Max-Age", "600");
      }
      return;
    }
    if (method == "POST") {
      std::make_shared<SsePost<Connection>>(con, handler_, std::move(origin))
          ->start(ip, inbound_limit_);
      return;
    }
    asio::error_code ignored;
    con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    std::make_shared<SseStream<Connection>>(con, handler_, std::move(origin))->start(ip);
  }

  TransportHandler& handler_;
  size_t inbound_limit_;
  size_t socket_window_;
  std::shared_ptr<asio::ssl::context> tls_;  // wss:// only
  WsServer server_;
};

}  // namespace herald::node::websocket_listener_detail
