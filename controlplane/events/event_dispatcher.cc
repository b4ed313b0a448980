#include "controlplane/events/event_dispatcher.h"

#include <algorithm>

#include "common/logging.h"

namespace herald::control {

EventDispatcher::EventDispatcher(std::string name, std::unique_ptr<EventSender> sender,
                                 EventDispatchOptions options)
    : name_(std::move(name)), sender_(std::move(sender)), options_(options) {
  thread_ = std::thread([this] { run(); });
}

EventDispatcher::~EventDispatcher() { stop(); }

void EventDispatcher::push(const std::vector<herald::v1::Event>& events) {
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& event : events) {
      if (queue_.size() >= options_.queue_limit) {
        ++dropped;
        continue;
      }
      queue_.push_back(event);
    }
  }
  if (dropped > 0) {
    dropped_.fetch_add(dropped, std::memory_order_relaxed);
  }
  wake_.notify_one();
}

void EventDispatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  sender_->cancel();
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void EventDispatcher::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
  ++cleared_;
}

size_t EventDispatcher::room() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() >= options_.queue_limit ? 0 : options_.queue_limit - queue_.size();
}

size_t EventDispatcher::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void EventDispatcher::run() {
  auto log = componentLogger("events");
  std::chrono::milliseconds backoff = options_.first_retry;
  bool failing = false;
  while (true) {
    herald::v1::EventBatch batch;
    uint64_t cleared = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      const size_t n = std::min(queue_.size(), options_.batch_size);
      for (size_t i = 0; i < n; ++i) {
        *batch.add_events() = queue_[i];
      }
      cleared = cleared_;
    }
    // Unlocked while sending: events keep arriving behind the batch.
    const Status sent = sender_->send(batch);
    std::unique_lock<std::mutex> lock(mu_);
    if (sent.isOk()) {
      delivered_.fetch_add(batch.events_size(), std::memory_order_relaxed);
      // Only this thread removes, so the batch is still the queue's head unless clear()ed.
      const bool head = cleared == cleared_;
      if (head) {
        queue_.erase(queue_.begin(), queue_.begin() + batch.events_size());
      }
      if (failing) {
        log->info("events to '{}' delivered again ({} queued)", name_, queue_.size());
      }
      failing = false;
      backoff = options_.first_retry;
      if (head && delivered_listener_) {
        lock.unlock();
        delivered_listener_(batch.events(batch.events_size() - 1).id());
      }
      continue;
    }
    failed_.fetch_add(1, std::memory_order_relaxed);
    if (!failing) {
      // Once per outage, not once per attempt.
      log->warn("events to '{}' not delivered, retrying with backoff: {}", name_, sent.message());
    }
    failing = true;
    if (wake_.wait_for(lock, backoff, [this] { return stopping_; })) {
      return;
    }
    backoff = std::min(backoff * 2, options_.max_retry);
  }
}

}  // namespace herald::control
