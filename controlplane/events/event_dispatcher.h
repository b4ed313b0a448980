#pragma once
// Delivers events to one receiver (docs/hooks.md "Events"): a bounded queue in the order the
// events happened, sent in batches by one thread; a batch the receiver did not take is sent
// again, with backoff, until it does. At least once and in order, for as long as this
// herald-control runs; past the queue's bound new events are dropped and counted.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald::control {

// One way to a receiver: HTTP POST of JSON or gRPC HookService.Events.
class EventSender {
 public:
  virtual ~EventSender() = default;
  // OK once the receiver took the whole batch; anything else and it is sent again.
  virtual Status send(const herald::v1::EventBatch& batch) = 0;
  // Makes a send in progress on another thread fail at once (stopping). Thread-safe.
  virtual void cancel() = 0;
};

struct EventDispatchOptions {
  size_t queue_limit = 100000;
  size_t batch_size = 100;
  std::chrono::milliseconds first_retry{250};
  std::chrono::milliseconds max_retry{30000};
};

class EventDispatcher {
 public:
  EventDispatcher(std::string name, std::unique_ptr<EventSender> sender,
                  EventDispatchOptions options = {});
  ~EventDispatcher();  // stop()
  EventDispatcher(const EventDispatcher&) = delete;
  EventDispatcher& operator=(const EventDispatcher&) = delete;

  // Queues events in order; those beyond the queue's bound are dropped (counted).
  void push(const std::vector<herald::v1::Event>& events);
  // Called on the sending thread with the id of the last event of each batch the receiver
  // took (the Redis event stream commits its read position so). Set before events flow.
  void setDeliveredListener(std::function<void(const std::string& last_id)> listener) {
    delivered_listener_ = std::move(listener);
  }
  // Forgets what is queued (another replica delivers the cluster's events now); a batch
  // being sent is still sent but not reported to the listener.
  void clear();
  // Events push() would take now without dropping.
  size_t room() const;
  // Events lost before they reached this dispatcher (the Redis stream's bound overtook them).
  void countDropped(uint64_t n) { dropped_.fetch_add(n, std::memory_order_relaxed); }
  // Ends the sending thread (a send in progress is cancelled); what is queued is lost.
  void stop();

  const std::string& name() const { return name_; }
  size_t queued() const;
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t failedAttempts() const { return failed_.load(std::memory_order_relaxed); }

 private:
  void run();

  const std::string name_;
  const std::unique_ptr<EventSender> sender_;
  const EventDispatchOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<herald::v1::Event> queue_;
  uint64_t cleared_ = 0;  // clear() calls: a batch sent across one is no longer the head
  bool stopping_ = false;
  std::function<void(const std::string&)> delivered_listener_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};
  std::thread thread_;
};

}  // namespace herald::control
