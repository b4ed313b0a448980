#include "dataplane/shard/server_commands.h"

#include "dataplane/session/client_session.h"

namespace herald::node {

std::vector<ClientSession*> matchingSessions(const ShardState& shard, const std::string& user,
                                             const std::string& client) {
  std::vector<ClientSession*> out;
  if (user.empty() && client.empty()) {
    return out;  // never "everyone"
  }
  if (!user.empty()) {
    auto it = shard.users.find(user);
    if (it == shard.users.end()) {
      return out;
    }
    for (ClientSession* session : it->second) {
      if (client.empty() || session->clientId() == client) {
        out.push_back(session);
      }
    }
    return out;
  }
  for (ClientSession* session : shard.sessions) {
    if (session->clientId() == client) {
      out.push_back(session);
      break;  // ids are unique
    }
  }
  return out;
}

void applySubscriptionCommand(ShardState& shard, const herald::v1::SubscriptionCommand& command) {
  StreamPosition since{command.since_offset(), command.epoch()};
  for (ClientSession* session : matchingSessions(shard, command.user(), command.client())) {
    if (command.unsubscribe()) {
      session->serverUnsubscribe(command.channel());
    } else {
      session->serverSubscribe(command.channel(), command.recover() ? &since : nullptr);
    }
  }
}

void applyRefreshCommand(ShardState& shard, const herald::v1::RefreshCommand& command) {
  for (ClientSession* session : matchingSessions(shard, command.user(), command.client())) {
    session->serverRefresh(command.expire_at());
  }
}

}  // namespace herald::node
