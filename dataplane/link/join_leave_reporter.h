#pragma once
// Sends what a JoinLeaveBatch gathered to herald-control, one window (kWindow) after its first
// entry: joins and leaves reach other subscribers within about 100 ms plus the hops.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "dataplane/link/join_leave_batch.h"

namespace herald::node {

class JoinLeaveReporter {
 public:
  static constexpr std::chrono::milliseconds kWindow{100};
  // Sends one message; false when it cannot (no link): its joins and leaves are counted as
  // unreported, not queued, since they would be stale by the time a link is back.
  using Sink = std::function<bool(herald::v1::NodeMessage)>;

  JoinLeaveReporter(JoinLeaveBatch& batch, Sink sink);
  ~JoinLeaveReporter();

  void start();
  // Sends what is gathered, then stops the thread (idempotent).
  void stop();

 private:
  void run();
  void flush();

  JoinLeaveBatch& batch_;
  const Sink sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace herald::node
