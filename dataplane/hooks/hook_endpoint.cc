#include "dataplane/hooks/hook_endpoint.h"

#include <algorithm>

namespace herald::node {

HookEndpoint::HookEndpoint(herald::v1::HookEndpoint config, HookTransportFactory factory)
    : config_(std::move(config)),
      timeout_(hookTimeoutMs(config_)),
      max_in_flight_(hookInFlight(config_)) {
  const uint32_t workers = std::min(max_in_flight_, kMaxWorkers);
  running_.resize(workers);
  try {
    for (uint32_t i = 0; i < workers; ++i) {
      workers_.emplace_back(
          [this, i, transport = factory()]() mutable { work(i, std::move(transport)); });
    }
    watchdog_ = std::thread([this] { watch(); });
  } catch (...) {
    stop();  // the threads already started must not outlive a half-built endpoint
    throw;
  }
}

HookEndpoint::~HookEndpoint() { stop(); }

HookEndpoint::Submitted HookEndpoint::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return Submitted::kStopped;
    }
    if (in_flight_ >= max_in_flight_) {
      return Submitted::kBusy;
    }
    ++in_flight_;
    queue_.push_back({std::move(job), Clock::now() + timeout_});
  }
  wake_.notify_one();
  return Submitted::kQueued;
}

void HookEndpoint::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
    for (auto& running : running_) {
      if (running.transport != nullptr && !running.cancelled) {
        running.cancelled = true;
        running.transport->cancel();
      }
    }
  }
  wake_.notify_all();
  watch_wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  if (watchdog_.joinable()) {
    watchdog_.join();
  }
  std::deque<Queued> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queue_);
    in_flight_ = 0;
  }
  for (auto& queued : left) {
    queued.job(nullptr, std::chrono::milliseconds(0), NotMade::kStopped);
  }
}

void HookEndpoint::work(size_t index, std::unique_ptr<HookTransport> transport) {
  for (;;) {
    Queued next;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
      running_[index] = {transport.get(), next.deadline, false};
    }
    watch_wake_.notify_one();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(next.deadline - Clock::now());
    if (left.count() > 0) {
      next.job(transport.get(), left, NotMade::kTimedOut);
    } else {
      next.job(nullptr, left, NotMade::kTimedOut);
    }
    std::lock_guard<std::mutex> lock(mu_);
    running_[index] = {};
    --in_flight_;
  }
}

void HookEndpoint::watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto& running : running_) {
      if (running.transport == nullptr || running.cancelled) {
        continue;
      }
      if (running.deadline <= now) {
        running.cancelled = true;
        running.transport->cancel();  // the worker's call fails at once
      } else {
        next = std::min(next, running.deadline);
      }
    }
    watch_wake_.wait_until(lock, next);
  }
}

}  // namespace herald::node
