#include "controlplane/stats/stats_windows.h"

#include <algorithm>
#include <unordered_map>

namespace herald::control {

namespace {

// Publications and deliveries of one namespace or channel in a window.
struct Activity {
  uint64_t publications = 0;
  uint64_t deliveries = 0;
};
using ActivityByName = std::unordered_map<std::string, Activity>;
using Ranked = std::vector<std::pair<std::string, Activity>>;

// Most publications first, then most deliveries, then by name.
Ranked ranked(const ActivityByName& by_name) {
  Ranked out(by_name.begin(), by_name.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.second.publications != b.second.publications) {
      return a.second.publications > b.second.publications;
    }
    if (a.second.deliveries != b.second.deliveries) {
      return a.second.deliveries > b.second.deliveries;
    }
    return a.first < b.first;
  });
  return out;
}

void addNamespaces(const ActivityByName& by_name, herald::v1::StatsWindow* w) {
  for (const auto& [name, a] : ranked(by_name)) {
    auto* entry = w->add_namespaces();
    entry->set_namespace_(name);
    entry->set_publications(a.publications);
    entry->set_deliveries(a.deliveries);
  }
}

void addChannel(const std::string& name, const Activity& a, herald::v1::StatsWindow* w) {
  auto* c = w->add_top_channels();
  c->set_channel(name);
  c->set_publications(a.publications);
  c->set_deliveries(a.deliveries);
}

// The `limit` channels with most publications.
void addTopChannels(const ActivityByName& by_name, size_t limit, herald::v1::StatsWindow* w) {
  const Ranked order = ranked(by_name);
  for (size_t i = 0; i < order.size() && i < limit; ++i) {
    addChannel(order[i].first, order[i].second, w);
  }
}

// For another replica's merge: the `limit` channels with most publications and the `limit`
// with most deliveries (nodes on one replica deliver what another accepted).
void addChannelsToMerge(const ActivityByName& by_name, size_t limit, herald::v1::StatsWindow* w) {
  const Ranked order = ranked(by_name);
  std::vector<const std::pair<std::string, Activity>*> by_deliveries;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i < limit) {
      addChannel(order[i].first, order[i].second, w);
    } else {
      by_deliveries.push_back(&order[i]);
    }
  }
  const size_t k = std::min(limit, by_deliveries.size());
  std::partial_sort(by_deliveries.begin(), by_deliveries.begin() + static_cast<std::ptrdiff_t>(k),
                    by_deliveries.end(), [](const auto* a, const auto* b) {
                      return a->second.deliveries != b->second.deliveries
                                 ? a->second.deliveries > b->second.deliveries
                                 : a->first < b->first;
                    });
  for (size_t i = 0; i < k && by_deliveries[i]->second.deliveries > 0; ++i) {
    addChannel(by_deliveries[i]->first, by_deliveries[i]->second, w);
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
    slot.delivered.clear();
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
  namespaceLocked(ns).publications.add(now_s);
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

StatsWindows::NamespaceWindows& StatsWindows::namespaceLocked(std::string_view ns) {
  auto it = by_namespace_.find(ns);
  if (it == by_namespace_.end()) {
    it = by_namespace_
             .emplace(by_namespace_.size() < kMaxNamespaces ? std::string(ns) : "(other)",
                      NamespaceWindows())
             .first;
  }
  return it->second;
}

void StatsWindows::recordDeliveries(const Deliveries& d, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (d.total > 0) {
    deliveries_.add(now_s, d.total);
  }
  for (const auto& [ns, n] : d.namespaces) {
    if (n > 0) {
      namespaceLocked(ns).deliveries.add(now_s, n);
    }
  }
  for (Tier& tier : tiers_) {
    Slot& slot = current(tier, now_s);
    for (const auto& [channel, n] : d.channels) {
      if (n > 0) {
        slot.delivered.add(channel, n);
      }
    }
  }
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
    fillWindowLocked(now_s, seconds, /*announcing=*/false, resp->add_windows(), &users);
  }
}

void StatsWindows::announce(int64_t now_s, herald::v1::ReplicaInfo* self) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const int64_t seconds : kWindowSeconds) {
    DistinctCounter users;
    fillWindowLocked(now_s, seconds, /*announcing=*/true, self->add_windows(), &users);
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
    ActivityByName namespaces;
    ActivityByName channels;
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
        Activity& a = namespaces[ns.namespace_()];
        a.publications += ns.publications();
        a.deliveries += ns.deliveries();
      }
      for (const auto& c : theirs.top_channels()) {
        Activity& a = channels[c.channel()];
        a.publications += c.publications();
        a.deliveries += c.deliveries();
      }
      if (i < replica->active_user_sketches_size()) {
        users.mergeRegisters(replica->active_user_sketches(i));
      }
    }
    w->set_active_users(users.estimate());
    addNamespaces(namespaces, w);
    addTopChannels(channels, kTopChannels, w);
  }
}

void StatsWindows::fillWindowLocked(int64_t now_s, int64_t seconds, bool announcing,
                                    herald::v1::StatsWindow* w, DistinctCounter* users) const {
  w->set_seconds(static_cast<uint32_t>(seconds));
  w->set_complete(now_s - started_s_ >= seconds);
  w->set_publications(publications_.sum(now_s, seconds));
  w->set_deliveries(deliveries_.sum(now_s, seconds));
  ActivityByName namespaces;
  for (const auto& [ns, windows] : by_namespace_) {
    const Activity a{windows.publications.sum(now_s, seconds),
                     windows.deliveries.sum(now_s, seconds)};
    if (a.publications > 0 || a.deliveries > 0) {
      namespaces.emplace(ns, a);
    }
  }
  addNamespaces(namespaces, w);
  int64_t count = 0;
  const Tier& tier = tierFor(seconds, &count);
  const int64_t newest = now_s / tier.span_s;
  ActivityByName channels;
  for (const Slot& slot : tier.slots) {
    if (slot.stamp > newest - count && slot.stamp <= newest) {
      users->merge(slot.users);
      for (const auto& e : slot.channels.top(kChannelsPerSlot)) {
        channels[e.key].publications += e.count;
      }
      for (const auto& e : slot.delivered.top(kChannelsPerSlot)) {
        channels[e.key].deliveries += e.count;
      }
    }
  }
  w->set_active_users(users->estimate());
  if (announcing) {
    addChannelsToMerge(channels, kChannelsPerSlot, w);
  } else {
    addTopChannels(channels, kTopChannels, w);
  }
}

}  // namespace herald::control
