#pragma once
// A backend's event endpoint for tests: collects the events herald-control POSTs to it
// (docs/hooks.md "Events"), or answers 503 while `down`.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/hook_signature.h"
#include "integration/support/cluster.h"

namespace herald::testing {

// Collects the events POSTed to it; answers 503 while `down`.
class EventReceiver {
 public:
  EventReceiver() {
    server_.Post("/hooks/events", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      ++attempts_;
      if (down_) {
        refused_.clear();
        const nlohmann::json batch = nlohmann::json::parse(req.body);
        for (const auto& e : batch["events"]) {
          refused_.push_back(e["type"].get<std::string>() + " " +
                             e.value("user", e.value("channel", std::string())));
        }
        res.status = 503;
        return;
      }
      last_signature_ = req.get_header_value(kHookSignatureHeader);
      last_body_ = req.body;
      const nlohmann::json batch = nlohmann::json::parse(req.body);
      for (const auto& e : batch["events"]) {
        events_.push_back(e);
      }
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~EventReceiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks"; }
  void setDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  int attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  std::vector<nlohmann::json> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::pair<std::string, std::string> lastSignatureAndBody() {
    std::lock_guard<std::mutex> lock(mu_);
    return {last_signature_, last_body_};
  }
  // "type subject" of each event received, in order.
  std::vector<std::string> seen() {
    std::vector<std::string> out;
    for (const auto& e : events()) {
      out.push_back(e["type"].get<std::string>() + " " +
                    e.value("user", e.value("channel", std::string())));
    }
    return out;
  }
  // The events once each, by id, in the order first received: what a receiver that
  // de-duplicates sees (a batch may come twice: docs/hooks.md "Events").
  std::vector<nlohmann::json> uniqueEvents() {
    std::vector<nlohmann::json> out;
    std::set<std::string> ids;
    for (const auto& e : events()) {
      if (ids.insert(e["id"].get<std::string>()).second) {
        out.push_back(e);
      }
    }
    return out;
  }
  std::vector<std::string> uniqueSeen() {
    std::vector<std::string> out;
    for (const auto& e : uniqueEvents()) {
      out.push_back(e["type"].get<std::string>() + " " +
                    e.value("user", e.value("channel", std::string())));
    }
    return out;
  }
  size_t uniqueCount(const std::string& what) {
    const auto all = uniqueSeen();
    return static_cast<size_t>(std::count(all.begin(), all.end(), what));
  }
  // Waits until the last batch refused while `down` held `what` ("type subject"): the
  // event exists and waits to be delivered.
  bool waitRefused(const std::string& what, std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          std::lock_guard<std::mutex> lock(mu_);
          return std::find(refused_.begin(), refused_.end(), what) != refused_.end();
        },
        timeout);
  }
  // Waits until `what` ("type subject") was received.
  bool waitFor(const std::string& what, std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          const auto all = seen();
          return std::find(all.begin(), all.end(), what) != all.end();
        },
        timeout);
  }
  size_t count(const std::string& what) {
    const auto all = seen();
    return static_cast<size_t>(std::count(all.begin(), all.end(), what));
  }

 private:
  std::mutex mu_;
  bool down_ = false;
  int attempts_ = 0;
  std::vector<nlohmann::json> events_;
  std::vector<std::string> refused_;  // "type subject" of the last batch refused
  std::string last_signature_;
  std::string last_body_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace herald::testing
