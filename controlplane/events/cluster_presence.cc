#include "controlplane/events/cluster_presence.h"

namespace herald::control {

namespace {

// Counts a node in (true: the first one) or out (true: the last one) of `subject`.
bool countIn(std::unordered_map<std::string, uint32_t>* counts, const std::string& subject) {
  return ++(*counts)[subject] == 1;
}
bool countOut(std::unordered_map<std::string, uint32_t>* counts, const std::string& subject) {
  auto it = counts->find(subject);
  if (it == counts->end()) {
    return false;
  }
  if (--it->second == 0) {
    counts->erase(it);
    return true;
  }
  return false;
}

}  // namespace

const char* presenceChangeName(PresenceChange change) {
  switch (change) {
    case PresenceChange::kClientConnected:
      return "client.connected";
    case PresenceChange::kClientDisconnected:
      return "client.disconnected";
    case PresenceChange::kSubscriptionAdded:
      return "subscription.added";
    case PresenceChange::kSubscriptionRemoved:
      return "subscription.removed";
    case PresenceChange::kUserOnline:
      return "user.online";
    case PresenceChange::kUserOffline:
      return "user.offline";
    case PresenceChange::kChannelOccupied:
      return "channel.occupied";
    case PresenceChange::kChannelVacated:
      return "channel.vacated";
  }
  return "unknown";
}

void ClusterPresence::addChannel(NodeState& state, const std::string& node,
                                 const std::string& channel, std::vector<PresenceTransition>* out) {
  if (state.channels.size() >= kMaxEntriesPerNode || !state.channels.insert(channel).second) {
    return;
  }
  if (countIn(&channel_nodes_, channel)) {
    out->push_back(makeTransition(PresenceChange::kChannelOccupied, "", channel, node, ""));
  }
}

void ClusterPresence::removeChannel(NodeState& state, const std::string& node,
                                    const std::string& channel, const std::string& reason,
                                    std::vector<PresenceTransition>* out) {
  if (state.channels.erase(channel) == 0) {
    return;
  }
  if (countOut(&channel_nodes_, channel)) {
    out->push_back(makeTransition(PresenceChange::kChannelVacated, "", channel, node, reason));
  }
}

void ClusterPresence::setUser(NodeState& state, const std::string& node, const std::string& user,
                              uint32_t connections, const std::string& reason,
                              std::vector<PresenceTransition>* out) {
  if (user.empty()) {
    return;  // anonymous connections are nobody's presence
  }
  auto it = state.users.find(user);
  if (connections == 0) {
    if (it == state.users.end()) {
      return;
    }
    state.users.erase(it);
    if (countOut(&user_nodes_, user)) {
      out->push_back(makeTransition(PresenceChange::kUserOffline, user, "", node, reason));
    }
    return;
  }
  if (it != state.users.end()) {
    it->second = connections;
    return;
  }
  if (state.users.size() >= kMaxEntriesPerNode) {
    return;
  }
  state.users.emplace(user, connections);
  if (countIn(&user_nodes_, user)) {
    out->push_back(makeTransition(PresenceChange::kUserOnline, user, "", node, ""));
  }
}

uint64_t ClusterPresence::attached(
    const std::string& node, const std::vector<std::string>& channels,
    const google::protobuf::RepeatedPtrField<herald::v1::UserCount>& users,
    const std::string& instance, bool reports_clients) {
  // The generation is this Hello's place in the order Hellos came in: a Hello whose Redis
  // call below ends after a newer one's must not take the node back.
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = next_generation_++;
    nodes_[node].latest_hello = generation;
  }
  // From another replica (or an earlier start of this one): the node's connections as it
  // reported them. Asked outside the lock, so other nodes' reports go on meanwhile; this
  // node's come on this thread, after this call.
  std::optional<NodeHandover::Previous> previous;
  if (handover_ != nullptr) {
    previous = handover_->takeOver(node, instance);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PresenceTransition> out;
  NodeState& state = nodes_[node];
  if (state.latest_hello != 0 && state.latest_hello != generation) {
    return generation;  // a newer link's Hello came meanwhile: this link's reports are void
  }
  state.latest_hello = generation;  // (0: the node was dropped meanwhile, and is back)
  state.generation = generation;
  state.detached = false;
  // What the node holds now, against what it held (nothing, for a new node): additions
  // first, so a user who only moved between a node's links is never seen offline.
  std::unordered_set<std::string> fresh_channels(channels.begin(), channels.end());
  std::unordered_map<std::string, uint32_t> fresh_users;
  for (const auto& count : users) {
    if (count.connections() > 0) {
      fresh_users[count.user()] = count.connections();
    }
  }
  // Within a report: users come online before they occupy channels, and vacate channels
  // before they go offline.
  for (const auto& [user, connections] : fresh_users) {
    setUser(state, node, user, connections, "", &out);
  }
  for (const auto& channel : fresh_channels) {
    addChannel(state, node, channel, &out);
  }
  {
    // (A node not reporting its connections is taken over too: it may report them later.)
    if (previous && reports_clients) {
      state.clients.adopt(previous->clients);
      // Not known (its first report came before its first Hello here): the same start.
      state.instance = previous->instance.empty() ? instance : previous->instance;
    }
  }
  if (state.instance != instance) {
    // Another start of the node: its client ids may repeat, and none of the old ones lives.
    state.clients.clear(node, ClientRoster::kCodeNodeLost, "node " + node + " restarted", &out);
    state.instance = instance;
  }
  state.reports_clients = reports_clients;
  if (!reports_clients) {
    state.clients.forget();  // it does not report them (now): nothing is known of them
  }                          // else its full list follows in its deltas
  const std::string reason = "the node no longer reports it after reconnecting";
  std::vector<std::string> gone_channels;
  for (const auto& channel : state.channels) {
    if (fresh_channels.count(channel) == 0) {
      gone_channels.push_back(channel);
    }
  }
  for (const auto& channel : gone_channels) {
    removeChannel(state, node, channel, reason, &out);
  }
  std::vector<std::string> gone_users;
  for (const auto& [user, connections] : state.users) {
    if (fresh_users.count(user) == 0) {
      gone_users.push_back(user);
    }
  }
  for (const auto& user : gone_users) {
    setUser(state, node, user, 0, reason, &out);
  }
  if (!out.empty()) {
    sink_(std::move(out));
  }
  return generation;
}

void ClusterPresence::changed(const std::string& node, uint64_t generation,
                              const herald::v1::InterestDelta& delta) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.generation != generation) {
    return;  // an older link's late report: the newer link's Hello said it all
  }
  std::vector<PresenceTransition> out;
  for (const auto& count : delta.user_counts()) {
    if (count.connections() > 0) {
      setUser(it->second, node, count.user(), count.connections(), "", &out);
    }
  }
  for (const auto& channel : delta.channels_added()) {
    addChannel(it->second, node, channel, &out);
  }
  auto& roster = it->second.clients;
  if (delta.clients_full()) {
    roster.beginFull();
  }
  roster.addFull(delta.clients());
  if (delta.clients_end()) {
    roster.endFull(node, "closed while node " + node + " could not report it", &out);
  }
  for (const auto& event : delta.client_events()) {
    roster.apply(event, node, &out);
  }
  for (const auto& channel : delta.channels_removed()) {
    removeChannel(it->second, node, channel, "", &out);
  }
  for (const auto& count : delta.user_counts()) {
    if (count.connections() == 0) {
      setUser(it->second, node, count.user(), 0, "", &out);
    }
  }
  if (!out.empty()) {
    sink_(std::move(out));
  }
}

void ClusterPresence::detached(const std::string& node, uint64_t generation, bool timed_out,
                               Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.generation != generation) {
    return;  // a newer link of the node took over
  }
  if (!timed_out) {
    it->second.detached = true;
    it->second.detached_at = now;
    return;
  }
  std::vector<PresenceTransition> out;
  dropNodeLocked(node, "node " + node + " stopped sending heartbeats", &out);
  if (!out.empty()) {
    sink_(std::move(out));
  }
}

void ClusterPresence::sweep(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> gone;
  for (const auto& [node, state] : nodes_) {
    if (state.detached && now - state.detached_at >= grace_) {
      gone.push_back(node);
    }
  }
  std::vector<PresenceTransition> out;
  for (const auto& node : gone) {
    dropNodeLocked(node, "node " + node + " lost its link and did not come back", &out);
  }
  if (!out.empty()) {
    sink_(std::move(out));
  }
}

void ClusterPresence::dropNodeLocked(const std::string& node, const std::string& reason,
                                     std::vector<PresenceTransition>* out) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    return;
  }
  NodeState& state = it->second;
  state.clients.clear(node, ClientRoster::kCodeNodeLost, reason, out);
  std::vector<std::string> channels(state.channels.begin(), state.channels.end());
  for (const auto& channel : channels) {
    removeChannel(state, node, channel, reason, out);
  }
  std::vector<std::string> users;
  for (const auto& [user, connections] : state.users) {
    users.push_back(user);
  }
  for (const auto& user : users) {
    setUser(state, node, user, 0, reason, out);
  }
  nodes_.erase(it);
}

void ClusterPresence::reannounce() {
  if (handover_ == nullptr) {
    return;
  }
  struct Target {
    std::string node;
    std::string instance;
    std::optional<NodeHandover::Previous> previous;
  };
  std::vector<Target> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [node, state] : nodes_) {
      if (state.reports_clients && !state.detached) {  // a detached one may be another's now
        targets.push_back(Target{node, state.instance, std::nullopt});
      }
    }
  }
  // Outside the lock (one Redis call each). What Redis has, also where it still names this
  // replica: a sweep may have stopped midway. Reports meanwhile go in again after the
  // reconcile's; Redis passes a connection's event once.
  for (auto& target : targets) {
    target.previous = handover_->takeOver(target.node, target.instance, true);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PresenceTransition> out;
  for (const auto& target : targets) {
    auto it = nodes_.find(target.node);
    if (!target.previous || it == nodes_.end() || it->second.instance != target.instance) {
      continue;  // gone, or restarted: its new Hello replaced what it had
    }
    it->second.clients.reconcile(target.previous->clients, target.node,
                                 "closed while herald-control was cut off from Redis", &out);
  }
  if (!out.empty()) {
    sink_(std::move(out));
  }
}

size_t ClusterPresence::users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return user_nodes_.size();
}

size_t ClusterPresence::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [node, state] : nodes_) {
    n += state.clients.clients();
  }
  return n;
}

size_t ClusterPresence::channels() const {
  std::lock_guard<std::mutex> lock(mu_);
  return channel_nodes_.size();
}

}  // namespace herald::control
