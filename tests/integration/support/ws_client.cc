#include "integration/support/ws_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

namespace herald::testing {

using Client = websocketpp::client<websocketpp::config::asio_client>;

class WsClient::Impl {
 public:
  Impl(const std::string& url, const std::map<std::string, std::string>& headers) {
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    client_.init_asio();
    client_.set_open_handler([this](websocketpp::connection_hdl) {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
      cv_.notify_all();
    });
    client_.set_fail_handler([this](websocketpp::connection_hdl h) {
      auto con = client_.get_con_from_hdl(h);
      std::lock_guard<std::mutex> lock(mu_);
      failed_ = true;
      closed_ = true;
      fail_reason_ = con->get_ec().message();
      http_status_ = con->get_response_code();
      cv_.notify_all();
    });
    client_.set_close_handler([this](websocketpp::connection_hdl h) {
      auto con = client_.get_con_from_hdl(h);
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      close_code_ = con->get_remote_close_code();
      cv_.notify_all();
    });
    client_.set_message_handler([this](websocketpp::connection_hdl, Client::message_ptr msg) {
      std::lock_guard<std::mutex> lock(mu_);
      frames_.push_back(msg->get_payload());
      cv_.notify_all();
    });
    websocketpp::lib::error_code ec;
    auto con = client_.get_connection(url, ec);
    if (ec) {
      failed_ = true;
      closed_ = true;
      fail_reason_ = ec.message();
      return;
    }
    for (const auto& [name, value] : headers) {
      con->append_header(name, value);
    }
    hdl_ = con->get_handle();
    client_.connect(con);
    thread_ = std::thread([this] { client_.run(); });
  }

  ~Impl() {
    close();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  void close() {
    bool should_close = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      should_close = open_ && !closed_;
    }
    if (should_close) {
      websocketpp::lib::error_code ec;
      client_.close(hdl_, websocketpp::close::status::normal, "bye", ec);
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_; });
    }
    client_.stop_perpetual();
    client_.stop();
  }

  Client client_;
  websocketpp::connection_hdl hdl_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> frames_;
  bool open_ = false;
  bool failed_ = false;
  bool closed_ = false;
  int close_code_ = 0;
  int http_status_ = 0;
  std::string fail_reason_;
};

WsClient::WsClient(const std::string& url, const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>(url, headers)) {}
WsClient::~WsClient() = default;

bool WsClient::waitOpen(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu_);
  impl_->cv_.wait_for(lock, timeout, [this] { return impl_->open_ || impl_->failed_; });
  return impl_->open_;
}

void WsClient::send(const std::string& text) {
  websocketpp::lib::error_code ec;
  impl_->client_.send(impl_->hdl_, text, websocketpp::frame::opcode::text, ec);
}

void WsClient::sendBinary(const std::string& bytes) {
  websocketpp::lib::error_code ec;
  impl_->client_.send(impl_->hdl_, bytes, websocketpp::frame::opcode::binary, ec);
}

std::optional<nlohmann::json> WsClient::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu_);
  if (!impl_->cv_.wait_for(lock, timeout, [this] { return !impl_->frames_.empty(); })) {
    return std::nullopt;
  }
  std::string frame = std::move(impl_->frames_.front());
  impl_->frames_.pop_front();
  auto parsed = nlohmann::json::parse(frame, nullptr, false);
  if (parsed.is_discarded()) {
    return nlohmann::json{{"type", "__not_json__"}, {"raw", frame}};
  }
  return parsed;
}

std::optional<std::string> WsClient::nextText(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu_);
  if (!impl_->cv_.wait_for(lock, timeout, [this] { return !impl_->frames_.empty(); })) {
    return std::nullopt;
  }
  std::string frame = std::move(impl_->frames_.front());
  impl_->frames_.pop_front();
  return frame;
}

nlohmann::json WsClient::nextAnswer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto frame = left.count() > 0 ? next(left) : std::nullopt;
    if (!frame) {
      return nlohmann::json{{"type", "timeout"}};
    }
    if ((*frame)["type"] == "reply" || (*frame)["type"] == "error" || (*frame)["type"] == "rpc") {
      return *frame;
    }
  }
}

std::optional<nlohmann::json> WsClient::nextOfType(const std::string& type,
                                                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    auto frame = next(left);
    if (!frame) {
      return std::nullopt;
    }
    if ((*frame)["type"] == type) {
      return frame;
    }
  }
}

std::optional<int> WsClient::waitClosed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu_);
  if (!impl_->cv_.wait_for(lock, timeout, [this] { return impl_->closed_; })) {
    return std::nullopt;
  }
  return impl_->close_code_;
}

void WsClient::close() { impl_->close(); }

std::string WsClient::failReason() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->fail_reason_;
}

int WsClient::httpStatus() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->http_status_;
}

HttpResponse httpGet(const std::string& host_port, const std::string& path) {
  HttpResponse out;
  const size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return out;
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (response.compare(0, 9, "HTTP/1.1 ") == 0) {
    out.status = std::stoi(response.substr(9, 3));
  }
  const size_t body = response.find("\r\n\r\n");
  if (body != std::string::npos) {
    out.body = response.substr(body + 4);
  }
  return out;
}

std::unique_ptr<WsClient> connectGreeted(const std::string& url,
                                         const std::map<std::string, std::string>& headers) {
  auto ws = std::make_unique<WsClient>(url, headers);
  EXPECT_TRUE(ws->waitOpen(std::chrono::seconds(10))) << ws->failReason();
  EXPECT_TRUE(ws->nextOfType("connected", std::chrono::seconds(10)).has_value()) << url;
  return ws;
}

}  // namespace herald::testing
