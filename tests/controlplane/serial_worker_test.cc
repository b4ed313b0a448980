#include "controlplane/serial_worker.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace herald::control {
namespace {

TEST(SerialWorkerTest, RunsJobsInOrderOffTheCallersThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> done;
  const auto caller = std::this_thread::get_id();
  bool elsewhere = true;
  {
    SerialWorker worker(100);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(worker.push([&, i] {
        std::lock_guard<std::mutex> lock(mu);
        elsewhere = elsewhere && std::this_thread::get_id() != caller;
        done.push_back(i);
        cv.notify_all();
      }));
    }
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done.size() == 50; }));
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(done[i], i);
  }
  EXPECT_TRUE(elsewhere);
}

TEST(SerialWorkerTest, RefusesJobsBeyondItsCapacityAndDropsUnstartedOnesAtTheEnd) {
  std::mutex gate;
  std::unique_lock<std::mutex> hold(gate);  // the first job blocks until released
  std::atomic<int> ran{0};
  std::atomic<bool> started{false};
  {
    SerialWorker worker(2);
    ASSERT_TRUE(worker.push([&] {
      started = true;
      std::lock_guard<std::mutex> wait(gate);
      ++ran;
    }));
    for (int i = 0; i < 1000 && !started; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(started.load());
    EXPECT_TRUE(worker.push([&] { ++ran; }));
    EXPECT_TRUE(worker.push([&] { ++ran; }));
    EXPECT_FALSE(worker.push([&] { ++ran; })) << "two already wait";
    hold.unlock();
    // The destructor waits for the running job and drops what had not started.
  }
  EXPECT_GE(ran.load(), 1);
  EXPECT_LE(ran.load(), 3);
}

TEST(SerialWorkerTest, DrainWaitsForWhatWasPushed) {
  SerialWorker worker(10);
  worker.drain(std::chrono::milliseconds(0));  // nothing pushed: returns at once
  std::atomic<int> done{0};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(worker.push([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ++done;
    }));
  }
  worker.drain(std::chrono::seconds(30));
  EXPECT_EQ(done.load(), 5) << "drain returned before the jobs ran";
}

}  // namespace
}  // namespace herald::control
