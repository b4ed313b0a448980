#include "dataplane/link/join_leave_reporter.h"

#include "common/join_leave_entries.h"

namespace herald::node {

JoinLeaveReporter::JoinLeaveReporter(JoinLeaveBatch& batch, Sink sink)
    : batch_(batch), sink_(std::move(sink)) {
  batch_.setNotifier([this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      woken_ = true;
    }
    cv_.notify_one();
  });
}

JoinLeaveReporter::~JoinLeaveReporter() {
  stop();
  batch_.setNotifier(nullptr);
}

void JoinLeaveReporter::start() {
  thread_ = std::thread([this] { run(); });
}

void JoinLeaveReporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void JoinLeaveReporter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait(lock, [this] { return stopping_ || woken_; });
    // The window: whatever else happens in it goes in the same report, coalesced.
    cv_.wait_for(lock, kWindow, [this] { return stopping_; });
    woken_ = false;
    lock.unlock();
    flush();
    lock.lock();
  }
  lock.unlock();
  flush();  // the last closes before a shutdown
}

void JoinLeaveReporter::flush() {
  for (auto& message : batch_.take()) {
    const uint64_t count = joinLeaveEntries(message.join_leave());
    if (!sink_(std::move(message))) {
      batch_.addUnreported(count);
    }
  }
}

}  // namespace herald::node
