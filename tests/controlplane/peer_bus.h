#pragma once
// An in-process PeerChannel for tests: replicas on one bus, messages handed over at once (on
// the sender's thread), optionally dropped, as Redis pub/sub would lose them.
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/peer_channel.h"

namespace herald::control {

class PeerBus {
 public:
  class Member : public PeerChannel {
   public:
    Member(PeerBus& bus, std::string name) : bus_(bus), name_(std::move(name)) {}
    void listen(const std::string& self, Handler handler) override {
      std::lock_guard<std::mutex> lock(bus_.mu_);
      bus_.handlers_[self] = std::move(handler);
    }
    Result<uint64_t> send(const std::string& to, const std::string& payload) override {
      return bus_.deliver(to, payload);
    }

   private:
    PeerBus& bus_;
    std::string name_;
  };

  // Messages for which `drop` returns true are lost.
  void setDrop(std::function<bool(const std::string& to, const std::string& payload)> drop) {
    std::lock_guard<std::mutex> lock(mu_);
    drop_ = std::move(drop);
  }
  void leave(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    handlers_.erase(name);
  }

 private:
  uint64_t deliver(const std::string& to, const std::string& payload) {
    std::vector<PeerChannel::Handler> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, handler] : handlers_) {
        if (to == "*" || to == name) {
          targets.push_back(handler);
        }
      }
      if (drop_ && drop_(to, payload)) {
        return targets.size();  // sent, then lost on the way
      }
    }
    for (const auto& handler : targets) {
      handler(payload);
    }
    return targets.size();
  }

  std::mutex mu_;
  std::map<std::string, PeerChannel::Handler> handlers_;
  std::function<bool(const std::string&, const std::string&)> drop_;
};

}  // namespace herald::control
