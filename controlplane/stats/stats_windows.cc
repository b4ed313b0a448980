#include "controlplane/stats/stats_windows.h"

#include <algorithm>
#include <unordered_map>

namespace herald::control {

namespace {

using Counts = std::vector<std::pair<std::string, uint64_t>>;

// Namespaces busiest first (a stable order among equals: by name, as counted).
void addNamespaces(Counts counts, herald::v1::StatsWindow* w) {
  std::stable_sort(counts.begin(), counts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [name, n] : counts) {
    auto* entry = w->add_namespaces();
    entry->set_namespace_(name);
    entry->set_publications(n);
  }
}

// The busiest channels, most publications first, at most `limit`.
void addTopChannels(Counts counts, size_t limit, herald::v1::StatsWindow* w) {
  std::sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (size_t i = 0; i < counts.size() && i < limit; ++i) {
    auto* c = w->add_top_channels();
    c->set_channel(counts[i].first);
    c->set_publications(counts[i].second);
  }
}

}  // namespace

StatsWindows::StatsWindows(int64_t started_s)
    : started_s_(started_s),
      tiers_{Tier{10, std::vector<Slot>(6)}, Tier{60, std::vector<Slot>(60)},
             Tier{3600, std::vector<Slot>(24)}} {}

StatsWindows::Slot& StatsWindows::current(Tier& tier, int64_t now_s) {
  const int64_t stamp = now_s / tier.span_s;
  Slot& slot = tier.slots[static_cast<size_t>(stamp) % tier.slots.size()];
  if (slot.stamp != stamp) {
    slot.stamp = stamp;
    slot.channels.clear();
    slot.users.clear();
  }
  return slot;
}

const StatsWindows::Tier& StatsWindows::tierFor(int64_t seconds, int64_t* slots) const {
  for (const Tier& tier : tiers_) {
    const int64_t n = (seconds + tier.span_s - 1) / tier.span_s;
    if (n <= static_cast<int64_t>(tier.slots.size())) {
      *slots = n;
      return tier;
    }
  }
  *slots = static_cast<int64_t>(tiers_.back().slots.size());
  return tiers_.back();
}

void StatsWindows::recordPublication(std::string_view ns, std::string_view channel,
                                     std::string_view user, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  publications_.add(now_s);
  auto it = by_namespace_.find(ns);
  if (it == by_namespace_.end()) {
    it = by_namespace_
             .emplace(by_namespace_.size() < kMaxNamespaces ? std::string(ns) : "(other)",
                      RateWindow())
             .first;
  }
  it->second.add(now_s);
  for (Tier& tier : tiers_) {
    Slot& slot = current(tier, now_s);
    if (!channel.empty()) {
      slot.channels.add(channel);
    }
    if (!user.empty()) {
      slot.users.add(user);
    }
  }
}

void StatsWindows::recordDeliveries(uint64_t n, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  deliveries_.add(now_s, n);
}

void StatsWindows::recordActiveUser(std::string_view user, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Tier& tier : tiers_) {
    current(tier, now_s).users.add(user);
  }
}

void StatsWindows::fill(int64_t now_s, herald::v1::ClusterStatsResponse* resp) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const int64_t seconds : kWindowSeconds) {
    DistinctCounter users;
    fillWindowLocked(now_s, seconds, resp->add_windows(), &users);
  }
}

void StatsWindows::announce(int64_t now_s, herald::v1::ReplicaInfo* self) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const int64_t seconds : kWindowSeconds) {
    DistinctCounter users;
    fillWindowLocked(now_s, seconds, self->add_windows(), &users);
    self->add_active_user_sketches(std::string(
        reinterpret_cast<const char*>(users.registers().data()), users.registers().size()));
  }
}

void StatsWindows::merge(const std::vector<const herald::v1::ReplicaInfo*>& replicas,
                         herald::v1::ClusterStatsResponse* resp) {
  if (replicas.empty()) {
    return;
  }
  for (int i = 0; i < static_cast<int>(kWindowSeconds.size()); ++i) {
    auto* w = resp->add_windows();
    w->set_seconds(static_cast<uint32_t>(kWindowSeconds[static_cast<size_t>(i)]));
    DistinctCounter users;
    std::map<std::string, uint64_t> namespaces;
    std::unordered_map<std::string, uint64_t> channels;
    bool first = true;
    for (const herald::v1::ReplicaInfo* replica : replicas) {
      if (i >= replica->windows_size()) {
        continue;  // an older replica that announces none
      }
      const auto& theirs = replica->windows(i);
      if (first) {
        w->set_complete(theirs.complete());
        first = false;
      }
      w->set_publications(w->publications() + theirs.publications());
      w->set_deliveries(w->deliveries() + theirs.deliveries());
      for (const auto& ns : theirs.namespaces()) {
        namespaces[ns.namespace_()] += ns.publications();
      }
      for (const auto& c : theirs.top_channels()) {
        channels[c.channel()] += c.publications();
      }
      if (i < replica->active_user_sketches_size()) {
        users.mergeRegisters(replica->active_user_sketches(i));
      }
    }
    w->set_active_users(users.estimate());
    addNamespaces(Counts(namespaces.begin(), namespaces.end()), w);
    addTopChannels(Counts(channels.begin(), channels.end()), kTopChannels, w);
  }
}

void StatsWindows::fillWindowLocked(int64_t now_s, int64_t seconds, herald::v1::StatsWindow* w,
                                    DistinctCounter* users) const {
  w->set_seconds(static_cast<uint32_t>(seconds));
  w->set_complete(now_s - started_s_ >= seconds);
  w->set_publications(publications_.sum(now_s, seconds));
  w->set_deliveries(deliveries_.sum(now_s, seconds));
  Counts namespaces;
  for (const auto& [ns, window] : by_namespace_) {
    if (const uint64_t n = window.sum(now_s, seconds); n > 0) {
      namespaces.emplace_back(ns, n);
    }
  }
  addNamespaces(std::move(namespaces), w);
  int64_t count = 0;
  const Tier& tier = tierFor(seconds, &count);
  const int64_t newest = now_s / tier.span_s;
  std::unordered_map<std::string, uint64_t> channels;
  for (const Slot& slot : tier.slots) {
    if (slot.stamp > newest - count && slot.stamp <= newest) {
      users->merge(slot.users);
      for (const auto& e : slot.channels.top(kChannelsPerSlot)) {
        channels[e.key] += e.count;
      }
    }
  }
  w->set_active_users(users->estimate());
  addTopChannels(Counts(channels.begin(), channels.end()), kTopChannels, w);
}

}  // namespace herald::control
