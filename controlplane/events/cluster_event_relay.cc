#include "controlplane/events/cluster_event_relay.h"

#include <algorithm>
#include <cstdlib>

#include "common/clock.h"
#include "common/logging.h"

namespace herald::control {
namespace {

// A stream id "MS-N" as a pair that orders as the stream does.
std::pair<uint64_t, uint64_t> streamOrder(const std::string& id) {
  const size_t dash = id.find('-');
  if (dash == std::string::npos) {
    return {0, 0};
  }
  return {std::strtoull(id.c_str(), nullptr, 10),
          std::strtoull(id.c_str() + dash + 1, nullptr, 10)};
}

bool isHold(const LogItem& item) { return item.op != LogItem::Op::kEvent; }

void stripHolds(std::vector<LogItem>* items) {
  items->erase(std::remove_if(items->begin(), items->end(), isHold), items->end());
}

}  // namespace

ClusterEventRelay::ClusterEventRelay(std::unique_ptr<ClusterEventLog> writer,
                                     std::unique_ptr<ClusterEventLog> reader,
                                     EventPublisher& publisher, Options options)
    : writer_(std::move(writer)),
      reader_(std::move(reader)),
      publisher_(publisher),
      options_(std::move(options)) {
  for (const auto& dispatcher : publisher_.dispatchers()) {
    const std::string name = dispatcher->name();
    dispatcher->setDeliveredListener([this, name](const std::string& id) {
      // Not moved forward (Redis down): the next leader sends those events again.
      (void)reader_->commit(name, id);
    });
  }
}

ClusterEventRelay::~ClusterEventRelay() { stop(std::chrono::milliseconds(0)); }

void ClusterEventRelay::start() {
  append_thread_ = std::thread([this] { appendLoop(); });
  deliver_thread_ = std::thread([this] { deliverLoop(); });
}

LogItem ClusterEventRelay::itemFor(const PresenceTransition& change) const {
  LogItem item;
  item.change = change;
  switch (change.change) {
    case PresenceChange::kUserOnline:
      item.op = LogItem::Op::kHoldUser;
      break;
    case PresenceChange::kUserOffline:
      item.op = LogItem::Op::kReleaseUser;
      break;
    case PresenceChange::kChannelOccupied:
      item.op = LogItem::Op::kHoldChannel;
      break;
    case PresenceChange::kChannelVacated:
      item.op = LogItem::Op::kReleaseChannel;
      break;
    default:
      item.op = LogItem::Op::kEvent;
      break;
  }
  item.emit = publisher_.wants(presenceChangeName(change.change));
  return item;
}

void ClusterEventRelay::push(const std::vector<PresenceTransition>& changes) {
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& change : changes) {
      LogItem item = itemFor(change);
      switch (item.op) {
        case LogItem::Op::kHoldUser:
          users_.insert(change.user);
          break;
        case LogItem::Op::kReleaseUser:
          users_.erase(change.user);
          break;
        case LogItem::Op::kHoldChannel:
          channels_.insert(change.channel);
          break;
        case LogItem::Op::kReleaseChannel:
          channels_.erase(change.channel);
          break;
        case LogItem::Op::kEvent:
          break;
      }
      if (isHold(item) && resync_) {
        continue;  // the resync tells the cluster this replica's state as it is then
      }
      if (queue_.size() >= options_.queue_limit) {
        // Redis unreachable for long: holds are told whole later, events are lost.
        if (!resync_) {
          resync_ = true;
          dropHoldsLocked();
        }
        if (isHold(item)) {
          continue;
        }
        if (queue_.size() >= options_.queue_limit) {
          ++dropped;
          continue;
        }
      }
      if (item.emit || isHold(item)) {
        queue_.push_back(std::move(item));
      }
    }
  }
  if (dropped > 0) {
    dropped_.fetch_add(dropped, std::memory_order_relaxed);
  }
  wake_.notify_all();
}

void ClusterEventRelay::dropHoldsLocked() {
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(), isHold), queue_.end());
}

size_t ClusterEventRelay::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

Status ClusterEventRelay::appendInFlight() {
  auto result = writer_->append(options_.member, seq_, known_, in_flight_, unixMillis(),
                                options_.queue_limit);
  if (!result.isOk()) {
    return result.status();  // sent again with the same seq: applied at most once
  }
  if (result->lost) {
    takenForLost();  // nothing was applied: the events go in again, the holds whole
    return Status::ok();
  }
  known_ = true;
  for (const LogItem& item : in_flight_) {
    switch (item.op) {
      case LogItem::Op::kHoldUser:
        held_users_.insert(item.change.user);
        break;
      case LogItem::Op::kReleaseUser:
        held_users_.erase(item.change.user);
        break;
      case LogItem::Op::kHoldChannel:
        held_channels_.insert(item.change.channel);
        break;
      case LogItem::Op::kReleaseChannel:
        held_channels_.erase(item.change.channel);
        break;
      case LogItem::Op::kEvent:
        break;
    }
  }
  appended_.fetch_add(result->added, std::memory_order_relaxed);
  dropped_.fetch_add(result->dropped, std::memory_order_relaxed);
  in_flight_.clear();
  return Status::ok();
}

Status ClusterEventRelay::resync() {
  std::vector<LogItem> items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto add = [&](LogItem::Op op, PresenceChange change, const std::string& name) {
      const bool user = op == LogItem::Op::kHoldUser || op == LogItem::Op::kReleaseUser;
      items.push_back(
          LogItem{op, publisher_.wants(presenceChangeName(change)),
                  makeTransition(change, user ? name : std::string(), user ? std::string() : name,
                                 std::string(), std::string())});
    };
    for (const auto& user : users_) {
      if (held_users_.count(user) == 0) {
        add(LogItem::Op::kHoldUser, PresenceChange::kUserOnline, user);
      }
    }
    for (const auto& user : held_users_) {
      if (users_.count(user) == 0) {
        add(LogItem::Op::kReleaseUser, PresenceChange::kUserOffline, user);
      }
    }
    for (const auto& channel : channels_) {
      if (held_channels_.count(channel) == 0) {
        add(LogItem::Op::kHoldChannel, PresenceChange::kChannelOccupied, channel);
      }
    }
    for (const auto& channel : held_channels_) {
      if (channels_.count(channel) == 0) {
        add(LogItem::Op::kReleaseChannel, PresenceChange::kChannelVacated, channel);
      }
    }
    resync_ = false;
  }
  for (size_t at = 0; at < items.size(); at += options_.batch) {
    in_flight_.assign(items.begin() + at,
                      items.begin() + std::min(items.size(), at + options_.batch));
    ++seq_;
    const Status status = appendInFlight();
    if (status.isOk() && !known_) {
      return status;  // taken for lost meanwhile: the resync starts over
    }
    if (!status.isOk() || !in_flight_.empty()) {
      in_flight_.clear();  // the next resync works out again what is missing
      std::lock_guard<std::mutex> lock(mu_);
      resync_ = true;
      dropHoldsLocked();
      return status;
    }
  }
  return Status::ok();
}

void ClusterEventRelay::heartbeat() {
  auto known = writer_->heartbeat(options_.member, options_.alive_ttl);
  if (known.isOk() && known_ && !known.value()) {
    takenForLost();
  }
}

void ClusterEventRelay::takenForLost() {
  // This replica missed its heartbeats (Redis out of reach) and another released what it
  // held, reporting it gone: it tells the cluster what it holds again, whole.
  componentLogger("events")->warn(
      "the cluster took this replica for lost: telling it its users and channels again");
  known_ = false;
  held_users_.clear();
  held_channels_.clear();
  if (!in_flight_.empty()) {
    stripHolds(&in_flight_);
    ++seq_;  // what is left of the batch was not applied: a new call
  }
  std::lock_guard<std::mutex> lock(mu_);
  resync_ = true;
  dropHoldsLocked();
}

void ClusterEventRelay::sweepLost() {
  auto lost = writer_->lostMembers();
  if (!lost.isOk()) {
    return;
  }
  for (const std::string& member : lost.value()) {
    if (member == options_.member) {
      continue;
    }
    ClusterEventLog::Sweep how;
    how.emit_users = publisher_.wants("user.offline");
    how.emit_channels = publisher_.wants("channel.vacated");
    how.reason = "herald-control replica " + member + " stopped (no heartbeat to Redis)";
    how.time_ms = unixMillis();
    how.stream_limit = options_.queue_limit;
    // Bounded per round: a replica that held millions is released over several seconds.
    for (int round = 0; round < 50; ++round) {
      auto remaining = writer_->sweep(member, how);
      if (!remaining.isOk() || remaining.value() <= 0) {
        if (remaining.isOk() && remaining.value() == 0) {
          componentLogger("events")->info("released what lost replica {} held", member);
        }
        break;
      }
    }
  }
}

void ClusterEventRelay::appendLoop() {
  auto log = componentLogger("events");
  auto next_heartbeat = Clock::now();
  auto next_sweep = Clock::now() + std::chrono::seconds(1);
  std::chrono::milliseconds backoff{250};
  bool failing = false;
  while (true) {
    const auto now = Clock::now();
    if (now >= next_heartbeat) {
      heartbeat();
      next_heartbeat = now + options_.heartbeat;
    }
    if (now >= next_sweep) {
      sweepLost();
      next_sweep = now + std::chrono::seconds(1);
    }
    bool need_resync = false;
    if (in_flight_.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      need_resync = resync_;
      if (!need_resync && !queue_.empty()) {
        const size_t n = std::min(queue_.size(), options_.batch);
        in_flight_.assign(std::make_move_iterator(queue_.begin()),
                          std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
        ++seq_;
      }
    }
    Status status = Status::ok();
    if (!in_flight_.empty()) {
      status = appendInFlight();
    } else if (need_resync) {
      status = resync();
    }
    if (!status.isOk() && !failing) {
      log->warn("events cannot be put into Redis (retrying): {}", status.message());
    } else if (status.isOk() && failing) {
      log->info("events go into Redis again");
    }
    failing = !status.isOk();

    std::unique_lock<std::mutex> lock(mu_);
    const bool idle = queue_.empty() && in_flight_.empty() && !resync_;
    if (stopping_) {
      // Flushing: as long as Redis takes them and the deadline allows.
      if (idle || failing || Clock::now() >= flush_deadline_) {
        break;
      }
      continue;
    }
    if (failing) {
      wake_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(250);
    if (idle) {
      wake_.wait_until(lock, std::min(next_heartbeat, next_sweep),
                       [this] { return stopping_ || resync_ || !queue_.empty(); });
    }
  }
}

void ClusterEventRelay::stepDown() {
  for (const auto& dispatcher : publisher_.dispatchers()) {
    dispatcher->clear();
  }
}

void ClusterEventRelay::deliverLoop() {
  auto log = componentLogger("events");
  const auto& dispatchers = publisher_.dispatchers();
  std::vector<std::string> read_from(dispatchers.size());  // "": ask Redis where it stands
  auto next_lease = Clock::now();
  auto next_trim = Clock::now() + std::chrono::seconds(1);
  constexpr size_t kPage = 1000;
  while (true) {
    const auto now = Clock::now();
    if (now >= next_lease) {
      auto lease = reader_->lead(options_.member, options_.lease_ttl);
      const bool lead = lease.isOk() && lease.value();
      if (lead && !leading()) {
        log->info("this replica delivers the cluster's events now");
      } else if (!lead && leading()) {
        log->info("another replica delivers the cluster's events now");
        stepDown();
        std::fill(read_from.begin(), read_from.end(), std::string());
      }
      leading_.store(lead, std::memory_order_relaxed);
      next_lease = now + options_.lease_ttl / 3;
    }
    bool more = false;
    if (leading()) {
      for (size_t i = 0; i < dispatchers.size(); ++i) {
        if (read_from[i].empty()) {
          auto position = reader_->position(dispatchers[i]->name());
          if (!position.isOk()) {
            continue;
          }
          read_from[i] = position.value();
        }
        const size_t room = std::min(dispatchers[i]->room(), kPage);
        if (room == 0) {
          continue;
        }
        auto events = reader_->read(read_from[i], room);
        if (!events.isOk() || events->empty()) {
          continue;
        }
        read_from[i] = events->back().id();
        more = more || events->size() == room;
        dispatchers[i]->push(events.value());
      }
      if (now >= next_trim) {
        // Events every receiver took go; a receiver that is down keeps them (to queue_limit).
        std::string lowest;
        bool known = true;
        for (const auto& dispatcher : dispatchers) {
          auto position = reader_->position(dispatcher->name());
          if (!position.isOk()) {
            known = false;
            break;
          }
          if (lowest.empty() || streamOrder(position.value()) < streamOrder(lowest)) {
            lowest = position.value();
          }
        }
        if (known && !lowest.empty() && lowest != "0-0") {
          (void)reader_->trim(lowest);
        }
        next_trim = now + std::chrono::seconds(1);
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      break;
    }
    if (!more) {
      wake_.wait_for(lock, options_.poll, [this] { return stopping_; });
    }
  }
  if (leading()) {
    stepDown();
    reader_->resign(options_.member);  // another replica takes over at once
    leading_.store(false, std::memory_order_relaxed);
  }
}

void ClusterEventRelay::stop(std::chrono::milliseconds flush) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !append_thread_.joinable() && !deliver_thread_.joinable()) {
      return;
    }
    stopping_ = true;
    flush_deadline_ = Clock::now() + flush;
  }
  wake_.notify_all();
  if (deliver_thread_.joinable()) {
    deliver_thread_.join();
  }
  if (append_thread_.joinable()) {
    append_thread_.join();
  }
}

}  // namespace herald::control
