#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace herald::control {

/**
 * Runs jobs one at a time, in the order given, on a thread of its own (started by the first
 * job), so slow work (a client publish that waits on Redis) does not hold up the thread that
 * hands it over (a NodeLink reader). Bounded: push() refuses a job when `capacity` wait.
 * The destructor drops jobs not started and waits for the running one.
 */
class SerialWorker {
 public:
  explicit SerialWorker(size_t capacity) : capacity_(capacity) {}
  ~SerialWorker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  bool push(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || jobs_.size() >= capacity_) {
        return false;
      }
      jobs_.push_back(std::move(job));
      if (!thread_.joinable()) {
        thread_ = std::thread([this] { run(); });
      }
    }
    cv_.notify_one();
    return true;
  }

  // Waits, at most `max`, until every job pushed so far has run (what a session's last
  // messages asked for is done before the session goes).
  void drain(std::chrono::milliseconds max) {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait_for(lock, max, [this] { return jobs_.empty() && !running_; });
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        running_ = false;
        idle_cv_.notify_all();
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) {
          return;
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
        running_ = true;
      }
      job();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace herald::control
