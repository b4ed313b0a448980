#include "controlplane/redis/redis_node_handover.h"

#include <map>

#include "common/logging.h"
#include "controlplane/redis/redis_event_scripts.h"

namespace herald::control {

RedisNodeHandover::RedisNodeHandover(const RedisAddress& address, std::chrono::milliseconds timeout,
                                     std::string member, Failure on_failure)
    : conn_(address, timeout), member_(std::move(member)), on_failure_(std::move(on_failure)) {}

std::optional<NodeHandover::Previous> RedisNodeHandover::takeOver(const std::string& node,
                                                                  const std::string& instance,
                                                                  bool always) {
  auto reply = conn_.command(
      {"EVAL", redis_event_scripts::kTakeOver, "0", member_, node, instance, always ? "1" : "0"});
  if (!reply.isOk() || reply.value().type != RedisValue::Type::kArray ||
      reply.value().elements.empty()) {
    componentLogger("events")->warn(
        "cannot take node {} over in Redis ({}): its connections may be reported again", node,
        reply.isOk() ? "unexpected reply" : reply.status().message());
    if (on_failure_) {
      on_failure_(node, instance);
    }
    return std::nullopt;
  }
  const auto& v = reply.value().elements;
  if (v[0].integer == 0 || v.size() != 4) {
    return std::nullopt;
  }
  Previous previous;
  previous.instance = v[1].str;
  // Roster fields "c:<client>" = user; subscriptions "<client>\n<channel>" = user.
  std::map<std::string, herald::v1::ClientState> clients;
  const auto& roster = v[2].elements;
  for (size_t i = 0; i + 1 < roster.size(); i += 2) {
    if (roster[i].str.rfind("c:", 0) == 0) {
      auto& state = clients[roster[i].str.substr(2)];
      state.set_client(roster[i].str.substr(2));
      state.set_user(roster[i + 1].str);
    }
  }
  const auto& subscriptions = v[3].elements;
  for (size_t i = 0; i + 1 < subscriptions.size(); i += 2) {
    const std::string& field = subscriptions[i].str;
    const size_t cut = field.find('\n');
    auto it = cut == std::string::npos ? clients.end() : clients.find(field.substr(0, cut));
    if (it != clients.end()) {
      it->second.add_channels(field.substr(cut + 1));
    }
  }
  for (auto& [client, state] : clients) {
    previous.clients.push_back(std::move(state));
  }
  return previous;
}

}  // namespace herald::control
