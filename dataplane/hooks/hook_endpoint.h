#pragma once
// One configured backend (HookEndpoint in hooks.proto) on one node: worker threads, each with
// its own HookTransport, a bound on calls waiting or running (max_in_flight), and a watchdog
// that cancels a call at its deadline (timeout_ms from when it was submitted), so neither a
// slow backend nor a stop waits on a socket longer than that.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dataplane/hooks/hook_transport.h"

namespace herald::node {

class HookEndpoint {
 public:
  // Workers per endpoint at most; calls beyond them wait in the queue.
  static constexpr uint32_t kMaxWorkers = 16;

  // Why a call was not made, for a Job given no transport.
  enum class NotMade { kTimedOut, kStopped };
  // A call: runs once whatever happens, so whoever waits for it always hears: on a worker
  // with its transport and the time left, or with no transport (null) and why not.
  using Job = std::function<void(HookTransport*, std::chrono::milliseconds left, NotMade)>;

  enum class Submitted { kQueued, kBusy, kStopped };

  HookEndpoint(herald::v1::HookEndpoint config, HookTransportFactory factory);
  ~HookEndpoint();  // stop()
  HookEndpoint(const HookEndpoint&) = delete;
  HookEndpoint& operator=(const HookEndpoint&) = delete;

  // kBusy (job not run) when max_in_flight calls are already waiting or running; kStopped
  // (not run) after stop().
  Submitted submit(Job job);
  // Cancels the calls in progress, joins the workers, then runs the queued jobs with no
  // transport (kStopped). Returns quickly whatever the backend does.
  void stop();

  const herald::v1::HookEndpoint& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Queued {
    Job job;
    Clock::time_point deadline;
  };
  struct Running {
    HookTransport* transport = nullptr;  // null: idle
    Clock::time_point deadline;
    bool cancelled = false;
  };
  void work(size_t index, std::unique_ptr<HookTransport> transport);
  void watch();

  const herald::v1::HookEndpoint config_;
  const std::chrono::milliseconds timeout_;
  const uint32_t max_in_flight_;
  std::mutex mu_;
  std::condition_variable wake_;        // workers: a job, or stop
  std::condition_variable watch_wake_;  // the watchdog: a call started, or stop
  std::deque<Queued> queue_;
  std::vector<Running> running_;  // one per worker
  uint32_t in_flight_ = 0;        // queued + running
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread watchdog_;
};

}  // namespace herald::node
