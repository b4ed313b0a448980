#include "controlplane/events/cluster_event_relay.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

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

// A hold or release of a user or channel (what a resync tells again, whole).
bool isHold(const LogItem& item) {
  return item.op != LogItem::Op::kEvent && item.op != LogItem::Op::kClaimNode;
}

void stripHolds(std::vector<LogItem>* items) {
  items->erase(std::remove_if(items->begin(), items->end(), isHold), items->end());
}

}  // namespace

ClusterEventRelay::ClusterEventRelay(const LogMaker& make_log, EventPublisher& publisher,
                                     Options options)
    : writer_(make_log()),
      reader_(make_log()),
      beat_(make_log()),
      publisher_(publisher),
      options_(std::move(options)) {
  for (const auto& dispatcher : publisher_.dispatchers()) {
    const std::string name = dispatcher->name();
    dispatcher->setDeliveredListener([this, name](const std::string& id) {
      // Not moved forward (Redis down): the next leader sends those events again.
      (void)reader_->commit(options_.member, name, id);
    });
  }
}

ClusterEventRelay::~ClusterEventRelay() { stop(std::chrono::milliseconds(0)); }

void ClusterEventRelay::start() {
  if (beat_->heartbeat(options_.member, options_.alive_ttl).isOk()) {
    beating_since_ms_.store(steadyMillis(), std::memory_order_relaxed);
  }
  append_thread_ = std::thread([this] { appendLoop(); });
  deliver_thread_ = std::thread([this] { deliverLoop(); });
  heartbeat_thread_ = std::thread([this] { heartbeatLoop(); });
}

void ClusterEventRelay::claimNode(const std::string& node, const std::string& instance) {
  LogItem item;
  item.op = LogItem::Op::kClaimNode;
  item.emit = false;
  item.change.node = node;
  item.instance = instance;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(item));
  }
  wake_.notify_all();
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

void ClusterEventRelay::Holdings::apply(const LogItem& item) {
  switch (item.op) {
    case LogItem::Op::kHoldUser:
      users.insert(item.change.user);
      break;
    case LogItem::Op::kReleaseUser:
      users.erase(item.change.user);
      break;
    case LogItem::Op::kHoldChannel:
      channels.insert(item.change.channel);
      break;
    case LogItem::Op::kReleaseChannel:
      channels.erase(item.change.channel);
      break;
    case LogItem::Op::kEvent:
    case LogItem::Op::kClaimNode:
      break;
  }
}

void ClusterEventRelay::push(const std::vector<PresenceTransition>& changes) {
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& change : changes) {
      LogItem item = itemFor(change);
      holding_.apply(item);
      if (isHold(item) && resync_) {
        continue;  // the resync tells the cluster this replica's state as it is then
      }
      if (queue_.size() >= options_.queue_limit) {
        // Redis unreachable for long: holds are told whole later, events are lost.
        if (!resync_) {
          resync_ = true;
          reannounce_ = true;  // the dropped connection events are told again
          dropHoldsLocked();
        }
        if (isHold(item)) {
          continue;
        }
        if (queue_.size() >= options_.queue_limit) {
          dropped += item.emit ? 1 : 0;
          continue;
        }
      }
      // Also what the receivers do not take: holds and rosters are kept in Redis from them.
      queue_.push_back(std::move(item));
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
    held_.apply(item);
  }
  appended_.fetch_add(result->added, std::memory_order_relaxed);
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
    // After being taken for lost, every hold again: Redis may lack any of them.
    for (const auto& user : holding_.users) {
      if (full_resync_ || held_.users.count(user) == 0) {
        add(LogItem::Op::kHoldUser, PresenceChange::kUserOnline, user);
      }
    }
    for (const auto& user : held_.users) {
      if (holding_.users.count(user) == 0) {
        add(LogItem::Op::kReleaseUser, PresenceChange::kUserOffline, user);
      }
    }
    for (const auto& channel : holding_.channels) {
      if (full_resync_ || held_.channels.count(channel) == 0) {
        add(LogItem::Op::kHoldChannel, PresenceChange::kChannelOccupied, channel);
      }
    }
    for (const auto& channel : held_.channels) {
      if (holding_.channels.count(channel) == 0) {
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
  full_resync_ = false;
  bool reannounce = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reannounce = !resync_ && std::exchange(reannounce_, false);
  }
  if (reannounce && on_lost_) {
    on_lost_();  // queues what differs; it goes in after the holds just told
  }
  return Status::ok();
}

void ClusterEventRelay::heartbeatLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, options_.heartbeat, [this] { return stopping_; })) {
    lock.unlock();
    auto known = beat_->heartbeat(options_.member, options_.alive_ttl);
    if (!known.isOk()) {
      beating_since_ms_.store(0, std::memory_order_relaxed);
    } else {
      int64_t expected = 0;
      beating_since_ms_.compare_exchange_strong(expected, steadyMillis());
      if (known_.load() && !known.value() && !lost_.exchange(true)) {
        wake_.notify_all();  // the append thread tells the cluster again
      }
    }
    lock.lock();
  }
}

bool ClusterEventRelay::sureOfLiveness() const {
  const int64_t since = beating_since_ms_.load(std::memory_order_relaxed);
  return since != 0 && steadyMillis() - since >= options_.alive_ttl.count();
}

void ClusterEventRelay::takenForLost() {
  // This replica missed its heartbeats (Redis out of reach) and another released what it
  // held, reporting it gone: it tells the cluster what it holds again, whole.
  componentLogger("events")->warn(
      "the cluster took this replica for lost: telling it its users and channels again");
  known_ = false;
  lost_ = false;
  // What it told Redis is kept: a release dropped now is sent again by the full resync.
  full_resync_ = true;
  if (!in_flight_.empty()) {
    stripHolds(&in_flight_);
    ++seq_;  // what is left of the batch was not applied: a new call
  }
  std::lock_guard<std::mutex> lock(mu_);
  resync_ = true;
  reannounce_ = true;  // the nodes' connections, reported again where Redis lost them
  dropHoldsLocked();
}

void ClusterEventRelay::sweepLost() {
  if (!sureOfLiveness()) {
    return;  // after an outage every key is missing: wait until the others renewed theirs
  }
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
    how.emit_clients = publisher_.wants("client.disconnected");
    how.emit_subscriptions = publisher_.wants("subscription.removed");
    how.reason = "herald-control replica " + member + " stopped (no heartbeat to Redis)";
    how.time_ms = unixMillis();
    how.stream_limit = options_.queue_limit;
    how.chunk = options_.batch;
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
  auto next_sweep = Clock::now() + std::chrono::seconds(1);
  std::chrono::milliseconds backoff{250};
  bool failing = false;
  while (true) {
    const auto now = Clock::now();
    if (lost_.load()) {
      takenForLost();
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
      wake_.wait_until(lock, next_sweep,
                       [this] { return stopping_ || resync_ || !queue_.empty() || lost_.load(); });
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
  std::vector<uint64_t> last_seq(dispatchers.size());      // 0: not known
  auto next_lease = Clock::now();
  // The lease is surely this replica's until then: it renewed it at least this recently.
  auto lease_until = Clock::now();
  auto next_trim = Clock::now() + std::chrono::seconds(1);
  constexpr size_t kPage = 1000;
  const auto step_down = [&] {
    stepDown();
    std::fill(read_from.begin(), read_from.end(), std::string());
    std::fill(last_seq.begin(), last_seq.end(), 0);
    leading_.store(false, std::memory_order_relaxed);
  };
  while (true) {
    const auto now = Clock::now();
    if (now >= next_lease) {
      auto lease = reader_->lead(options_.member, options_.lease_ttl);
      const bool lead = lease.isOk() && lease.value();
      if (lead) {
        if (!leading()) {
          log->info("this replica delivers the cluster's events now");
        }
        lease_until = now + options_.lease_ttl * 2 / 3;
        leading_.store(true, std::memory_order_relaxed);
      } else if (leading() && (lease.isOk() || now >= lease_until)) {
        log->info("this replica no longer delivers the cluster's events");
        step_down();
      }
      next_lease = now + options_.lease_ttl / 3;
    }
    bool more = false;
    for (size_t i = 0; i < dispatchers.size() && leading(); ++i) {
      if (Clock::now() >= lease_until) {
        // Slow calls outlasted the lease: another replica may deliver already.
        log->warn("the lease of delivering events ran out: stepping down");
        step_down();
        break;
      }
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
      // Events the stream's bound took before this receiver had them: lost to it, counted.
      if (last_seq[i] != 0 && events->front().seq > last_seq[i] + 1) {
        const uint64_t lost = events->front().seq - last_seq[i] - 1;
        log->warn("events to '{}': {} lost, it fell more than queue_limit behind",
                  dispatchers[i]->name(), lost);
        dispatchers[i]->countDropped(lost);
      }
      last_seq[i] = events->back().seq;
      read_from[i] = events->back().event.id();
      more = more || events->size() == room;
      std::vector<herald::v1::Event> batch;
      batch.reserve(events->size());
      for (auto& logged : events.value()) {
        batch.push_back(std::move(logged.event));
      }
      dispatchers[i]->push(batch);
    }
    if (leading() && now >= next_trim) {
      // What every receiver took goes now; the rest is bounded by the stream's MAXLEN.
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
    if (stopping_ && !append_thread_.joinable() && !deliver_thread_.joinable() &&
        !heartbeat_thread_.joinable()) {
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
  if (heartbeat_thread_.joinable()) {
    heartbeat_thread_.join();
  }
}

}  // namespace herald::control
