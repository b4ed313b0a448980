#include "cli/bench/publisher.h"

#include <chrono>
#include <cstdio>
#include <random>

#include <grpcpp/grpcpp.h>
#include <asio.hpp>

#include "herald/v1/control.grpc.pb.h"

namespace herald::bench {
namespace {

int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Publisher::Publisher(PublishOptions options) : options_(std::move(options)) {
  if (options_.batch == 0) {
    options_.batch = 1;
  }
}

Publisher::~Publisher() { stop(); }

void Publisher::start() {
  thread_ = std::thread([this] {
    if (!options_.http_url.empty()) {
      runHttp();
    } else if (options_.stream) {
      runStream();
    } else {
      runGrpc();
    }
  });
}

void Publisher::stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::string Publisher::firstError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

std::map<std::string, uint64_t> Publisher::lastOffsets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_offsets_;
}

std::string Publisher::payload() const {
  std::string out = "{\"t\":" + std::to_string(nowMicros()) + ",\"p\":";
  if (options_.book) {
    // Price levels around 64,000 with varying cents and sizes, as an order book update.
    thread_local std::minstd_rand rng(12345);
    out += '[';
    char level[64];
    while (out.size() + 40 < options_.payload_bytes) {
      std::snprintf(level, sizeof(level), "%s{\"px\":%u.%02u,\"sz\":%u.%03u}",
                    out.back() == '[' ? "" : ",", static_cast<unsigned>(63900 + rng() % 200),
                    static_cast<unsigned>(rng() % 100), static_cast<unsigned>(rng() % 20),
                    static_cast<unsigned>(rng() % 1000));
      out += level;
    }
    out += "]}";
    return out;
  }
  out += '"';
  const size_t closing = 2;
  if (out.size() + closing < options_.payload_bytes) {
    out.append(options_.payload_bytes - out.size() - closing, 'x');
  }
  out.append("\"}");
  return out;
}

bool Publisher::waitForTurn(std::chrono::steady_clock::time_point start, uint64_t sent) {
  if (options_.rate > 0) {
    // Fixed rate: each call waits for its slot, so bursts do not catch up unseen.
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(sent / options_.rate)));
  }
  while (options_.may_publish && !stopping_ &&
         !options_.may_publish(published_.load(std::memory_order_relaxed))) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return !stopping_;
}

void Publisher::runGrpc() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel =
      grpc::CreateCustomChannel(options_.control, grpc::InsecureChannelCredentials(), args);
  auto stub = herald::v1::Control::NewStub(channel);
  const auto start = std::chrono::steady_clock::now();
  size_t next_channel = 0;
  uint64_t sent = 0;
  while (!stopping_) {
    if (!waitForTurn(start, sent)) {
      break;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!options_.api_key.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + options_.api_key);
    }
    herald::v1::PublishBatchRequest batch;
    const uint32_t count = options_.rate > 0 ? 1 : options_.batch;
    for (uint32_t i = 0; i < count; ++i) {
      auto* p = batch.add_publications();
      p->set_channel(options_.channels[next_channel]);
      next_channel = (next_channel + 1) % options_.channels.size();
      p->set_data(payload());
      p->mutable_tags()->insert(options_.tags.begin(), options_.tags.end());
    }
    herald::v1::PublishBatchResponse resp;
    grpc::Status s = stub->PublishBatch(&ctx, batch, &resp);
    sent += count;
    if (!s.ok()) {
      failures_.fetch_add(count, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu_);
      if (first_error_.empty()) {
        first_error_ = "publish: " + s.error_message();
      }
      continue;
    }
    published_.fetch_add(count, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < resp.results_size(); ++i) {
      uint64_t& last = last_offsets_[batch.publications(i).channel()];
      last = std::max(last, resp.results(i).offset());
    }
  }
}

void Publisher::runStream() {
  auto stub = herald::v1::Control::NewStub(
      grpc::CreateChannel(options_.control, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  if (!options_.api_key.empty()) {
    ctx.AddMetadata("authorization", "Bearer " + options_.api_key);
  }
  herald::v1::PublishStreamResponse resp;
  auto writer = stub->PublishStream(&ctx, &resp);
  const auto start = std::chrono::steady_clock::now();
  size_t next_channel = 0;
  uint64_t sent = 0;
  herald::v1::PublishRequest p;
  while (!stopping_) {
    if (!waitForTurn(start, sent)) {
      break;
    }
    p.set_channel(options_.channels[next_channel]);
    next_channel = (next_channel + 1) % options_.channels.size();
    p.set_data(payload());
    p.mutable_tags()->insert(options_.tags.begin(), options_.tags.end());
    ++sent;
    if (!writer->Write(p)) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      break;  // the server ended the call: Finish says why
    }
    published_.fetch_add(1, std::memory_order_relaxed);
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    first_error_ = "publish stream: " + s.error_message();
  }
}

void Publisher::runHttp() {
  // http://HOST:PORT/PATH, keep-alive, one request at a time.
  const std::string& url = options_.http_url;
  const std::string rest = url.substr(url.find("//") + 2);
  const std::string host_port = rest.substr(0, rest.find('/'));
  const std::string path = rest.find('/') == std::string::npos ? "/" : rest.substr(rest.find('/'));
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  const std::string port = host_port.substr(host_port.rfind(':') + 1);
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  auto record_error = [&](const std::string& what) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    if (first_error_.empty()) {
      first_error_ = "http publish: " + what;
    }
  };
  const auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  std::string response;
  while (!stopping_) {
    if (!waitForTurn(start, sent)) {
      break;
    }
    ++sent;
    asio::error_code ec;
    if (!socket.is_open()) {
      asio::ip::tcp::resolver resolver(io);
      asio::connect(socket, resolver.resolve(host, port, ec), ec);
      if (ec) {
        record_error(ec.message());
        socket.close();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
    }
    const std::string body = payload();
    const std::string request =
        "POST " + path + " HTTP/1.1\r\nHost: " + host_port +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    asio::write(socket, asio::buffer(request), ec);
    // Read the status line and headers, then Content-Length bytes of body.
    response.clear();
    size_t header_end = std::string::npos;
    char buf[4096];
    while (!ec && (header_end = response.find("\r\n\r\n")) == std::string::npos) {
      response.append(buf, socket.read_some(asio::buffer(buf), ec));
    }
    if (ec) {
      record_error(ec.message());
      socket.close();
      continue;
    }
    size_t length = 0;
    const size_t cl = response.find("Content-Length: ");
    if (cl != std::string::npos && cl < header_end) {
      length = std::stoul(response.substr(cl + 16));
    }
    while (!ec && response.size() < header_end + 4 + length) {
      response.append(buf, socket.read_some(asio::buffer(buf), ec));
    }
    if (ec || response.compare(9, 1, "2") != 0) {
      record_error(ec ? ec.message() : response.substr(0, response.find("\r\n")));
      socket.close();
      continue;
    }
    published_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace herald::bench
