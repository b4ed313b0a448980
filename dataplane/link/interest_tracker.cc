#include "dataplane/link/interest_tracker.h"

namespace herald::node {

void InterestTracker::change(Set& set, const std::string& key, int by) {
  std::function<void()> notify;
  {
    std::shared_lock<std::shared_mutex> order;
    if (order_ != nullptr) {
      order = std::shared_lock<std::shared_mutex>(*order_);
    }
    std::lock_guard<std::mutex> lock(mu_);
    int& count = set.counts[key];
    count += by;
    if (count <= 0) {
      set.counts.erase(key);
    }
    set.dirty.insert(key);
    notify = notify_;
  }
  if (notify) {
    notify();
  }
}

void InterestTracker::takeSetFull(Set& set, std::vector<std::string>* out) {
  set.reported.clear();
  set.dirty.clear();
  out->clear();
  for (const auto& [key, count] : set.counts) {
    out->push_back(key);
    set.reported.insert(key);
  }
}

void InterestTracker::takeSetDelta(Set& set, google::protobuf::RepeatedPtrField<std::string>* added,
                                   google::protobuf::RepeatedPtrField<std::string>* removed) {
  for (const auto& key : set.dirty) {
    const bool now = set.counts.count(key) != 0;
    const bool before = set.reported.count(key) != 0;
    if (now && !before) {
      *added->Add() = key;
      set.reported.insert(key);
    } else if (!now && before) {
      *removed->Add() = key;
      set.reported.erase(key);
    }
  }
  set.dirty.clear();
}

void InterestTracker::takeFull(
    std::vector<std::string>* channels, std::vector<std::string>* users,
    google::protobuf::RepeatedPtrField<herald::v1::UserCount>* user_counts) {
  std::lock_guard<std::mutex> lock(mu_);
  takeSetFull(channels_, channels);
  takeSetFull(users_, users);
  dirty_user_counts_.clear();
  if (user_counts != nullptr) {
    for (const auto& [user, count] : user_connections_) {
      auto* entry = user_counts->Add();
      entry->set_user(user);
      entry->set_connections(count);
    }
  }
}

void InterestTracker::userConnections(const std::string& user, int delta) {
  std::function<void()> notify;
  {
    std::shared_lock<std::shared_mutex> order;
    if (order_ != nullptr) {
      order = std::shared_lock<std::shared_mutex>(*order_);
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& count = user_connections_[user];
    count = delta < 0 && count < static_cast<uint32_t>(-delta) ? 0 : count + delta;
    if (count == 0) {
      user_connections_.erase(user);
    }
    dirty_user_counts_.insert(user);
    notify = notify_;
  }
  if (notify) {
    notify();
  }
}

bool InterestTracker::takeDelta(herald::v1::InterestDelta* delta) {
  std::lock_guard<std::mutex> lock(mu_);
  takeSetDelta(channels_, delta->mutable_channels_added(), delta->mutable_channels_removed());
  takeSetDelta(users_, delta->mutable_users_added(), delta->mutable_users_removed());
  for (const auto& user : dirty_user_counts_) {
    auto it = user_connections_.find(user);
    auto* entry = delta->add_user_counts();
    entry->set_user(user);
    entry->set_connections(it == user_connections_.end() ? 0 : it->second);
  }
  dirty_user_counts_.clear();
  return delta->channels_added_size() + delta->channels_removed_size() + delta->users_added_size() +
             delta->users_removed_size() + delta->user_counts_size() >
         0;
}

void InterestTracker::setNotifier(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(mu_);
  notify_ = std::move(notify);
}

size_t InterestTracker::channels() const {
  std::lock_guard<std::mutex> lock(mu_);
  return channels_.counts.size();
}

size_t InterestTracker::users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return users_.counts.size();
}

}  // namespace herald::node
