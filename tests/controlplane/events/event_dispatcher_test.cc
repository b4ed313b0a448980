// Event delivery to one receiver: in order, whole batches again until taken, bounded.
#include "controlplane/events/event_dispatcher.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controlplane/events/event_senders.h"

namespace herald::control {
namespace {

using namespace std::chrono_literals;

// A receiver that refuses the first `refuse` batches, then takes what it is sent.
struct Receiver {
  std::mutex mu;
  std::condition_variable cv;
  int refuse = 0;
  int attempts = 0;
  std::vector<std::string> taken;  // event ids, in the order taken
  bool waitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 10s, [&] { return taken.size() >= n; });
  }
};

// Waits until the receiver took the event `id`.
bool waitTaken(Receiver& r, const std::string& id) {
  std::unique_lock<std::mutex> lock(r.mu);
  return r.cv.wait_for(
      lock, 10s, [&] { return std::find(r.taken.begin(), r.taken.end(), id) != r.taken.end(); });
}

class FakeSender : public EventSender {
 public:
  explicit FakeSender(Receiver& r) : r_(r) {}
  Status send(const herald::v1::EventBatch& batch) override {
    std::lock_guard<std::mutex> lock(r_.mu);
    ++r_.attempts;
    if (r_.refuse > 0) {
      --r_.refuse;
      return Status(ErrorCode::kUnavailable, "HTTP 503");
    }
    for (const auto& e : batch.events()) {
      r_.taken.push_back(e.id());
    }
    r_.cv.notify_all();
    return Status::ok();
  }
  void cancel() override {}

 private:
  Receiver& r_;
};

std::vector<herald::v1::Event> events(int from, int to) {
  std::vector<herald::v1::Event> out;
  for (int i = from; i <= to; ++i) {
    herald::v1::Event e;
    e.set_id(std::to_string(i));
    out.push_back(e);
  }
  return out;
}

TEST(EventDispatcherTest, ARefusedBatchIsSentAgainAndOrderHolds) {
  Receiver r;
  r.refuse = 3;
  EventDispatchOptions options;
  options.first_retry = 10ms;
  options.batch_size = 4;
  EventDispatcher d("app", std::make_unique<FakeSender>(r), options);
  d.push(events(1, 5));
  d.push(events(6, 10));
  ASSERT_TRUE(r.waitFor(10));
  std::vector<std::string> expected;
  for (int i = 1; i <= 10; ++i) {
    expected.push_back(std::to_string(i));
  }
  EXPECT_EQ(r.taken, expected) << "each once, in order, though three attempts failed";
  // The receiver has the events before the dispatcher counts them; stop() waits for the count.
  d.stop();
  EXPECT_EQ(d.failedAttempts(), 3u);
  EXPECT_EQ(d.delivered(), 10u);
  EXPECT_EQ(d.queued(), 0u);
}

TEST(EventDispatcherTest, PastItsBoundNewEventsAreDroppedAndCounted) {
  Receiver r;
  r.refuse = 1000000;  // a receiver that is down
  EventDispatchOptions options;
  options.queue_limit = 5;
  options.first_retry = 10ms;
  EventDispatcher d("app", std::make_unique<FakeSender>(r), options);
  d.push(events(1, 8));
  EXPECT_EQ(d.queued(), 5u);
  EXPECT_EQ(d.dropped(), 3u);
  d.stop();  // returns though the receiver never takes anything
}

TEST(EventDispatcherTest, ClearForgetsWhatWaitsAndTheListenerHearsOnlyBatchesTaken) {
  Receiver r;
  r.refuse = 1000000;
  EventDispatchOptions options;
  options.first_retry = 10ms;
  options.max_retry = 10ms;
  options.batch_size = 3;
  options.queue_limit = 10;
  EventDispatcher d("app", std::make_unique<FakeSender>(r), options);
  std::mutex mu;
  std::vector<std::string> heard;
  d.setDeliveredListener([&](const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    heard.push_back(id);
  });
  d.push(events(1, 8));
  EXPECT_EQ(d.room(), 2u);
  d.clear();  // another replica delivers these now
  EXPECT_EQ(d.queued(), 0u);
  EXPECT_EQ(d.room(), 10u);
  d.push(events(9, 13));
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.refuse = 0;
  }
  ASSERT_TRUE(waitTaken(r, "13"));
  d.stop();
  std::lock_guard<std::mutex> lock(r.mu);
  // A batch of the old events may have been on its way when clear() came: it is taken
  // but not reported, so the stream position does not move past events never sent.
  std::vector<std::string> after_clear(std::find(r.taken.begin(), r.taken.end(), "9"),
                                       r.taken.end());
  EXPECT_EQ(after_clear, (std::vector<std::string>{"9", "10", "11", "12", "13"}));
  std::lock_guard<std::mutex> heard_lock(mu);
  EXPECT_EQ(heard, (std::vector<std::string>{"11", "13"})) << "the last id of each batch taken";
}

TEST(EventDispatcherTest, TheHttpBodyListsEachEventWithItsMembers) {
  herald::v1::EventBatch batch;
  auto* e = batch.add_events();
  e->set_id("ab-1");
  e->set_type("user.offline");
  e->set_time_ms(1700000000000);
  e->set_user("alice");
  e->set_node("n1");
  e->set_reason("node n1 stopped sending heartbeats");
  const auto body = nlohmann::json::parse(eventBatchJson(batch));
  ASSERT_EQ(body["events"].size(), 1u);
  EXPECT_EQ(body["events"][0], nlohmann::json({{"id", "ab-1"},
                                               {"type", "user.offline"},
                                               {"time_ms", 1700000000000},
                                               {"user", "alice"},
                                               {"node", "n1"},
                                               {"reason", "node n1 stopped sending heartbeats"}}))
      << "no empty channel member";
}

}  // namespace
}  // namespace herald::control
