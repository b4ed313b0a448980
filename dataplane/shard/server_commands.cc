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

int shardOfClient(const std::string& node_id, const std::string& client) {
  // NODE-SHARD-SEQUENCE, NODE possibly holding '-' itself.
  if (client.size() <= node_id.size() + 1 || client.compare(0, node_id.size(), node_id) != 0 ||
      client[node_id.size()] != '-') {
    return -1;
  }
  const size_t start = node_id.size() + 1;
  const size_t dash = client.find('-', start);
  if (dash == std::string::npos || dash == start || dash - start > 4) {
    return -1;
  }
  int shard = 0;
  for (size_t i = start; i < dash; ++i) {
    if (client[i] < '0' || client[i] > '9') {
      return -1;
    }
    shard = shard * 10 + (client[i] - '0');
  }
  return shard;
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
