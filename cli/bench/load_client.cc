#include "cli/bench/load_client.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string_view>

#include <asio.hpp>

#include "cli/bench/jwt_signer.h"
#include "cli/bench/ws_frames.h"
#include "common/deflate_codec.h"

namespace herald::bench {
namespace {

using asio::ip::tcp;

int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string substitute(const std::string& text, uint32_t index) {
  std::string out = text;
  // {i%2}: the index's parity, e.g. to give half the clients one filter, half another.
  for (const auto& [needle, value] :
       {std::pair<std::string, std::string>{"{i}", std::to_string(index)},
        {"{i%2}", std::to_string(index % 2)}}) {
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at)) {
      out.replace(at, needle.size(), value);
    }
  }
  return out;
}

// The last offset seen on one channel of one connection.
struct Track {
  size_t channel = 0;  // hash of the channel name
  uint64_t last = 0;
};

}  // namespace

struct Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  uint32_t index = 0;
  bool open = false;          // upgraded
  std::string partial;        // bytes of an incomplete frame (or the handshake answer)
  std::vector<Track> tracks;  // usually one or two channels
  uint64_t messages = 0;
  bool subscribed = false;  // churn: the next frame unsubscribes
};

struct LoadClient::Worker {
  explicit Worker(const LoadOptions& o) : options(o) {}

  const LoadOptions& options;
  asio::io_context io;
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<uint32_t> indexes;  // connection indexes this worker opens
  // Signed before the clock starts, as real clients hold their tokens before they connect:
  // the connect rate then measures connecting, not the bench's HMACs.
  std::unordered_map<uint32_t, std::string> tokens;
  std::vector<char> buffer = std::vector<char>(256 * 1024);
  asio::steady_timer pacer{io};
  size_t next = 0;
  std::mt19937 rng{std::random_device{}()};

  std::atomic<uint64_t> established{0}, failed{0}, closed{0}, messages{0}, churn_ops{0};
  uint64_t bytes = 0, gaps = 0, out_of_order = 0, compressed_frames = 0;
  std::string inflated;  // a compressed frame's text, reused
  LatencyHistogram latency;
  std::string first_error;
  std::chrono::steady_clock::time_point started, last_established;

  void fail(Connection& c, const std::string& what) {
    if (first_error.empty()) {
      first_error = what;
    }
    if (c.open) {
      closed.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed.fetch_add(1, std::memory_order_relaxed);
    }
    c.open = false;
    asio::error_code ignored;
    c.socket.close(ignored);
  }

  void startConnecting() {
    if (!options.jwt_secret.empty()) {
      for (uint32_t index : indexes) {
        tokens[index] =
            signHs256(options.jwt_secret, options.jwt_kid, "bench-" + std::to_string(index), 3600);
      }
    }
    started = std::chrono::steady_clock::now();
    scheduleNext();
  }

  void scheduleNext() {
    if (next >= indexes.size()) {
      return;
    }
    if (options.connect_rate == 0) {
      while (next < indexes.size()) {
        connectOne(indexes[next++]);
      }
      return;
    }
    connectOne(indexes[next++]);
    // Each worker opens its share at rate / threads.
    const auto gap = std::chrono::nanoseconds(1'000'000'000ull * options.threads /
                                              std::max<uint32_t>(options.connect_rate, 1));
    pacer.expires_after(gap);
    pacer.async_wait([this](const asio::error_code& ec) {
      if (!ec) {
        scheduleNext();
      }
    });
  }

  void connectOne(uint32_t index) {
    connections.push_back(std::make_unique<Connection>(io));
    Connection& c = *connections.back();
    c.index = index;
    asio::error_code ec;
    c.socket.open(tcp::v4(), ec);
    if (!ec && options.source_addresses > 1) {
      const uint32_t host = 0x7f000001 + index % options.source_addresses;
      c.socket.bind(tcp::endpoint(asio::ip::address_v4(host), 0), ec);
    }
    if (ec) {
      fail(c, "socket: " + ec.message());
      return;
    }
    asio::ip::address address = asio::ip::make_address(options.host, ec);
    if (ec) {
      fail(c, "address: " + ec.message());
      return;
    }
    c.socket.async_connect(tcp::endpoint(address, options.port),
                           [this, &c](const asio::error_code& e) { onConnected(c, e); });
  }

  void onConnected(Connection& c, const asio::error_code& ec) {
    if (ec) {
      fail(c, "connect: " + ec.message());
      return;
    }
    asio::error_code ignored;
    c.socket.set_option(tcp::no_delay(true), ignored);
    std::string path = substitute(options.path, c.index);
    if (!options.jwt_secret.empty()) {
      path += (path.find('?') == std::string::npos ? "?token=" : "&token=") + tokens[c.index];
    }
    auto request = std::make_shared<std::string>(
        "GET " + path + " HTTP/1.1\r\nHost: " + options.host + ":" + std::to_string(options.port) +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        std::string(options.deflate
                        ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                        : "") +
        "\r\n");
    asio::async_write(c.socket, asio::buffer(*request),
                      [this, &c, request](const asio::error_code& e, size_t) {
                        if (e) {
                          fail(c, "handshake write: " + e.message());
                          return;
                        }
                        waitReadable(c);
                      });
  }

  void waitReadable(Connection& c) {
    c.socket.async_wait(tcp::socket::wait_read,
                        [this, &c](const asio::error_code& ec) { onReadable(c, ec); });
  }

  void send(Connection& c, std::string frame) {
    auto data = std::make_shared<std::string>(std::move(frame));
    asio::async_write(c.socket, asio::buffer(*data), [data](const asio::error_code&, size_t) {});
  }

  void onReadable(Connection& c, const asio::error_code& ec) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        fail(c, "read: " + ec.message());
      }
      return;
    }
    c.socket.non_blocking(true);
    for (;;) {
      asio::error_code read_ec;
      const size_t n = c.socket.read_some(asio::buffer(buffer), read_ec);
      if (read_ec == asio::error::would_block) {
        break;
      }
      if (read_ec) {
        fail(c, read_ec == asio::error::eof ? "closed by the server" : read_ec.message());
        return;
      }
      bytes += n;
      if (!consume(c, std::string_view(buffer.data(), n))) {
        return;
      }
      if (n < buffer.size()) {
        break;
      }
    }
    waitReadable(c);
  }

  // Handles received bytes; false when the connection is done.
  bool consume(Connection& c, std::string_view data) {
    std::string_view rest = data;
    if (!c.partial.empty()) {
      c.partial.append(data.data(), data.size());
      rest = c.partial;
    }
    size_t used = 0;
    if (!c.open) {
      const size_t end = rest.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        keep(c, rest, 0);
        return true;
      }
      if (rest.substr(0, 12) != "HTTP/1.1 101") {
        fail(c, "upgrade refused: " + std::string(rest.substr(0, rest.find("\r\n"))));
        return false;
      }
      if (options.deflate &&
          rest.substr(0, end).find("permessage-deflate") == std::string_view::npos) {
        fail(c, "the server did not agree permessage-deflate (herald-node: --compression)");
        return false;
      }
      c.open = true;
      established.fetch_add(1, std::memory_order_relaxed);
      last_established = std::chrono::steady_clock::now();
      used = end + 4;
      if (!options.first_frame.empty()) {
        send(c, clientFrame(1, substitute(options.first_frame, c.index),
                            static_cast<uint32_t>(rng())));
      }
      for (uint32_t i = 0; !options.churn_channel.empty() && i < options.churn_depth; ++i) {
        churn(c);
      }
    }
    for (;;) {
      ServerFrame frame;
      const size_t n = parseServerFrame(rest.substr(used), &frame);
      if (n == 0) {
        break;
      }
      if (n == SIZE_MAX) {
        fail(c, "malformed frame from the server");
        return false;
      }
      used += n;
      if (frame.opcode == 1 && frame.rsv1) {
        // No context takeover: every compressed message inflates on its own.
        inflated.clear();
        if (inflateMessage(frame.payload, 64u << 20, &inflated) != InflateResult::kOk) {
          fail(c, "a compressed frame did not inflate");
          return false;
        }
        ++compressed_frames;
        onText(c, inflated);
      } else if (frame.opcode == 1) {
        onText(c, frame.payload);
      } else if (frame.opcode == 9) {
        send(c, clientFrame(10, frame.payload, static_cast<uint32_t>(rng())));
      } else if (frame.opcode == 8) {
        fail(c, "close frame from the server");
        return false;
      }
    }
    keep(c, rest, used);
    return true;
  }

  static void keep(Connection& c, std::string_view rest, size_t used) {
    if (used == rest.size()) {
      c.partial.clear();
    } else if (rest.data() == c.partial.data()) {
      c.partial.erase(0, used);
    } else {
      c.partial.assign(rest.data() + used, rest.size() - used);
    }
  }

  // Sends the next subscribe or unsubscribe of the churn.
  void churn(Connection& c) {
    const std::string channel = substitute(options.churn_channel, c.index);
    const char* type = c.subscribed ? "unsubscribe" : "subscribe";
    c.subscribed = !c.subscribed;
    send(c, clientFrame(
                1, std::string("{\"type\":\"") + type + "\",\"channels\":[\"" + channel + "\"]}",
                static_cast<uint32_t>(rng())));
  }

  void onText(Connection& c, std::string_view payload) {
    if (!options.churn_channel.empty() &&
        payload.find("\"type\":\"reply\"") != std::string_view::npos) {
      churn_ops.fetch_add(1, std::memory_order_relaxed);
      churn(c);
      return;
    }
    uint64_t sent_us = 0;
    if (!findNumber(payload, "\"t\":", &sent_us)) {
      return;  // not a bench message (connected, reply, ...)
    }
    ++c.messages;
    messages.fetch_add(1, std::memory_order_relaxed);
    const int64_t now = nowMicros();
    latency.record(now > static_cast<int64_t>(sent_us) ? static_cast<uint64_t>(now) - sent_us : 0);
    uint64_t offset = 0;
    if (!findNumber(payload, "\"offset\":", &offset)) {
      return;
    }
    size_t channel = 0;
    constexpr std::string_view kChannel = "\"channel\":\"";
    if (const size_t at = payload.find(kChannel); at != std::string_view::npos) {
      const size_t start = at + kChannel.size();
      channel =
          std::hash<std::string_view>{}(payload.substr(start, payload.find('"', start) - start));
    }
    for (auto& t : c.tracks) {
      if (t.channel == channel) {
        if (offset <= t.last) {
          ++out_of_order;
        } else {
          // A filtered or conflated subscription's frame says what it follows (`prev`): the
          // offsets between were filtered or conflated, not lost, unless prev is past ours.
          uint64_t prev = 0;
          if (findNumber(payload, "\"prev\":", &prev)) {
            gaps += prev > t.last ? prev - t.last : 0;
          } else {
            gaps += offset - t.last - 1;
          }
          t.last = offset;
        }
        return;
      }
    }
    c.tracks.push_back(Track{channel, offset});
  }

  uint64_t behind(size_t channel, uint64_t last) const {
    uint64_t missing = 0;
    for (const auto& c : connections) {
      for (const auto& t : c->tracks) {
        if (t.channel == channel && t.last < last) {
          missing += last - t.last;
        }
      }
    }
    return missing;
  }
};

LoadClient::LoadClient(LoadOptions options) : options_(std::move(options)) {
  const uint32_t threads = std::max<uint32_t>(options_.threads, 1);
  options_.threads = threads;
  for (uint32_t i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(options_));
  }
  for (uint32_t i = 0; i < options_.connections; ++i) {
    workers_[i % threads]->indexes.push_back(i);
  }
}

LoadClient::~LoadClient() { stop(); }

void LoadClient::start() {
  for (auto& w : workers_) {
    Worker* worker = w.get();
    threads_.emplace_back([worker] {
      auto guard = asio::make_work_guard(worker->io);
      worker->startConnecting();
      worker->io.run();
    });
  }
}

LoadProgress LoadClient::progress() const {
  LoadProgress p;
  for (const auto& w : workers_) {
    p.established += w->established.load(std::memory_order_relaxed);
    p.failed += w->failed.load(std::memory_order_relaxed);
    p.closed += w->closed.load(std::memory_order_relaxed);
    p.messages += w->messages.load(std::memory_order_relaxed);
    p.churn_ops += w->churn_ops.load(std::memory_order_relaxed);
  }
  return p;
}

void LoadClient::stop() {
  for (auto& w : workers_) {
    w->io.stop();
  }
  for (auto& t : threads_) {
    t.join();
  }
  threads_.clear();
}

LoadResults LoadClient::results() const {
  LoadResults r;
  std::chrono::steady_clock::time_point first{}, last{};
  for (const auto& w : workers_) {
    r.established += w->established.load();
    r.failed += w->failed.load();
    r.closed += w->closed.load();
    r.messages += w->messages.load();
    r.churn_ops += w->churn_ops.load();
    r.bytes += w->bytes;
    r.compressed_frames += w->compressed_frames;
    r.gaps += w->gaps;
    r.out_of_order += w->out_of_order;
    r.latency.merge(w->latency);
    if (r.first_error.empty()) {
      r.first_error = w->first_error;
    }
    for (const auto& c : w->connections) {
      if (c->open || c->messages > 0) {
        r.per_connection.push_back(c->messages);
      }
    }
    if (first == std::chrono::steady_clock::time_point{} || w->started < first) {
      first = w->started;
    }
    if (w->last_established > last) {
      last = w->last_established;
    }
  }
  if (last > first) {
    r.connect_seconds = std::chrono::duration<double>(last - first).count();
  }
  return r;
}

uint64_t LoadClient::missingAtTail(const std::string& channel, uint64_t last) const {
  const size_t hash = std::hash<std::string_view>{}(channel);
  uint64_t missing = 0;
  for (const auto& w : workers_) {
    missing += w->behind(hash, last);
  }
  return missing;
}

}  // namespace herald::bench
