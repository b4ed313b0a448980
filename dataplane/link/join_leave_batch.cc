#include "dataplane/link/join_leave_batch.h"

#include <algorithm>

namespace herald::node {

void JoinLeaveBatch::joined(const std::string& channel, const std::string& client,
                            const std::string& user) {
  record(channel, client, user, true);
}

void JoinLeaveBatch::left(const std::string& channel, const std::string& client,
                          const std::string& user) {
  record(channel, client, user, false);
}

void JoinLeaveBatch::record(const std::string& channel, const std::string& client,
                            const std::string& user, bool join) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.empty()) {
      notify = notify_;  // a copy once per window, so that setNotifier() may run meanwhile
    }
    recordLocked(channel, client, user, join);
  }
  if (notify) {
    notify();
  }
}

void JoinLeaveBatch::setNotifier(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(mu_);
  notify_ = std::move(notify);
}

void JoinLeaveBatch::recordLocked(const std::string& channel, const std::string& client,
                                  const std::string& user, bool join) {
  auto it = pending_.find(channel);
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxChannels) {
      ++unreported_;
      return;
    }
    it = pending_.emplace(channel, Pending{}).first;
  }
  Pending& p = it->second;
  auto& cancel = join ? p.left : p.joined;
  auto found = std::find_if(cancel.begin(), cancel.end(),
                            [&](const Entry& e) { return e.client == client; });
  if (found != cancel.end()) {
    cancel.erase(found);
    --listed_;
    if (p.joined.empty() && p.left.empty() && p.joined_unlisted == 0 && p.left_unlisted == 0) {
      pending_.erase(it);  // frees its slot: subscribe-and-leave churn cannot fill the window
    }
    return;
  }
  auto& add = join ? p.joined : p.left;
  if (add.size() >= kMaxListed || listed_ >= kMaxListedTotal) {
    ++(join ? p.joined_unlisted : p.left_unlisted);
    return;
  }
  add.push_back(Entry{client, user});
  ++listed_;
}

std::vector<herald::v1::NodeMessage> JoinLeaveBatch::take() {
  std::unordered_map<std::string, Pending> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(pending_);
    listed_ = 0;
  }
  std::vector<herald::v1::NodeMessage> out;
  size_t bytes = 0;
  for (auto& [channel, p] : taken) {
    if (out.empty() || bytes >= kMaxMessageBytes) {
      out.emplace_back();
      out.back().mutable_join_leave();
      bytes = 0;
    }
    auto* change = out.back().mutable_join_leave()->add_channels();
    change->set_channel(channel);
    bytes += channel.size() + 16;
    for (auto& e : p.joined) {
      auto* entry = change->add_joined();
      bytes += e.client.size() + e.user.size() + 8;
      entry->set_client(std::move(e.client));
      entry->set_user(std::move(e.user));
    }
    for (auto& e : p.left) {
      auto* entry = change->add_left();
      bytes += e.client.size() + e.user.size() + 8;
      entry->set_client(std::move(e.client));
      entry->set_user(std::move(e.user));
    }
    change->set_joined_unlisted(p.joined_unlisted);
    change->set_left_unlisted(p.left_unlisted);
  }
  return out;
}

bool JoinLeaveBatch::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.empty();
}

uint64_t JoinLeaveBatch::unreported() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unreported_;
}

void JoinLeaveBatch::addUnreported(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  unreported_ += n;
}

}  // namespace herald::node
