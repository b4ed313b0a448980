#include "controlplane/memory_stream_engine.h"

#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "controlplane/router.h"
#include "mocks/controlplane/mocks.h"

namespace herald::control {
namespace {

using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;

PublishItem item(std::string channel, std::string event, std::string data, std::string key,
                 int64_t ts_unix_ms, HistoryPolicy history, PublisherInfo publisher) {
  PublishItem out;
  out.channel = std::move(channel);
  out.event = std::move(event);
  out.data = std::move(data);
  out.idempotency_key = std::move(key);
  out.ts_unix_ms = ts_unix_ms;
  out.history = history;
  out.publisher = std::move(publisher);
  return out;
}

TEST(MemoryStreamEngineTest, OffsetsStartAtOneAndIncreasePerChannel) {
  Router router;
  MemoryStreamEngine registry(router);
  auto a1 = registry.publish(item("a", "", "1", "", 0, {}, {}));
  auto a2 = registry.publish(item("a", "", "2", "", 0, {}, {}));
  auto b1 = registry.publish(item("b", "", "1", "", 0, {}, {}));
  auto a3 = registry.publish(item("a", "", "3", "", 0, {}, {}));
  EXPECT_EQ(a1.offset, 1u);
  EXPECT_EQ(a2.offset, 2u);
  EXPECT_EQ(a3.offset, 3u);
  EXPECT_EQ(b1.offset, 1u);
  EXPECT_EQ(a1.epoch, a3.epoch);
  EXPECT_EQ(a1.epoch.size(), 16u);
  EXPECT_EQ(registry.publications(), 4u);
  auto list = registry.list().value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list["a"].offset, 3u);
  EXPECT_EQ(list["b"].offset, 1u);
}

TEST(MemoryStreamEngineTest, EpochDiffersBetweenRegistries) {
  // A restarted control plane (new registry) must not reuse an epoch: clients detect the loss.
  Router router;
  MemoryStreamEngine first(router), second(router);
  EXPECT_NE(first.publish(item("a", "", "1", "", 0, {}, {})).epoch,
            second.publish(item("a", "", "1", "", 0, {}, {})).epoch);
}

TEST(MemoryStreamEngineTest, IdempotencyKeyPreventsSecondDelivery) {
  Router router;
  MemoryStreamEngine registry(router);
  auto node = std::make_shared<NiceMock<MockNodeSink>>("n1");
  router.setNode(node, {"a"}, {});
  EXPECT_CALL(*node, send(_)).Times(1);
  auto first = registry.publish(item("a", "", "1", "key-1", 0, {}, {}));
  auto retry = registry.publish(item("a", "", "1", "key-1", 0, {}, {}));
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.offset, first.offset);
}

TEST(MemoryStreamEngineTest, IdempotencyWindowForgetsOldestKeys) {
  Router router;
  MemoryStreamEngine registry(router);
  registry.publish(item("a", "", "1", "k0", 0, {}, {}));
  for (size_t i = 1; i <= MemoryStreamEngine::kIdempotencyWindow; ++i) {
    registry.publish(item("a", "", "1", "k" + std::to_string(i), 0, {}, {}));
  }
  EXPECT_FALSE(registry.publish(item("a", "", "1", "k0", 0, {}, {})).duplicate);
  EXPECT_TRUE(registry.publish(item("a", "", "1", "k1000", 0, {}, {})).duplicate);
}

TEST(MemoryStreamEngineTest, RoutesOnlyToInterestedNodesWithFullPublication) {
  Router router;
  MemoryStreamEngine registry(router);
  auto interested = std::make_shared<NiceMock<MockNodeSink>>("n1");
  auto other = std::make_shared<NiceMock<MockNodeSink>>("n2");
  router.setNode(interested, {"token:price"}, {});
  router.setNode(other, {"token:other"}, {});
  ControlMessagePtr seen;
  EXPECT_CALL(*interested, send(_)).WillOnce(Invoke([&](ControlMessagePtr m) {
    seen = m;
    return true;
  }));
  EXPECT_CALL(*other, send(_)).Times(0);
  auto out =
      registry.publish(item("token:price", "price_update", "{\"price\":1}", "", 1234, {}, {}));
  EXPECT_EQ(out.nodes, 1u);
  ASSERT_TRUE(seen);
  const auto& pub = seen->deliver().publication();
  EXPECT_EQ(seen->deliver().target(), herald::v1::DELIVERY_TARGET_CHANNEL);
  EXPECT_EQ(pub.channel(), "token:price");
  EXPECT_EQ(pub.event(), "price_update");
  EXPECT_EQ(pub.data(), "{\"price\":1}");
  EXPECT_EQ(pub.offset(), 1u);
  EXPECT_EQ(pub.epoch(), out.epoch);
  EXPECT_EQ(pub.ts_unix_ms(), 1234);
}

TEST(MemoryStreamEngineTest, ConcurrentPublishersReachEachNodeInOffsetOrder) {
  Router router;
  MemoryStreamEngine registry(router);
  auto node = std::make_shared<NiceMock<MockNodeSink>>("n1");
  router.setNode(node, {"hot"}, {});
  std::mutex mu;
  std::vector<uint64_t> received;
  ON_CALL(*node, send(_)).WillByDefault(Invoke([&](ControlMessagePtr m) {
    std::lock_guard<std::mutex> lock(mu);
    received.push_back(m->deliver().publication().offset());
    return true;
  }));
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        registry.publish(item("hot", "", "1", "", 0, {}, {}));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_EQ(received.size(), static_cast<size_t>(kThreads * kEach));
  for (size_t i = 0; i < received.size(); ++i) {
    ASSERT_EQ(received[i], i + 1) << "delivery order differs from offset order at " << i;
  }
}

}  // namespace
}  // namespace herald::control

namespace herald::control {
namespace {

TEST(MemoryStreamEngineHistoryTest, ReadsWhatWasPublishedAfterAPosition) {
  Router router;
  MemoryStreamEngine registry(router);
  const HistoryPolicy keep{100, 0};
  std::string epoch;
  for (int i = 1; i <= 5; ++i) {
    epoch = registry.publish(item("a", "ev", std::to_string(i), "", 0, keep, {})).epoch;
  }
  auto read = registry.history("a", HistoryQuery{2, epoch, 0, 0}, 0);
  EXPECT_TRUE(read.recovered);
  EXPECT_EQ(read.offset, 5u);
  EXPECT_EQ(read.epoch, epoch);
  ASSERT_EQ(read.publications.size(), 3u);
  EXPECT_EQ(read.publications[0]->offset(), 3u);
  EXPECT_EQ(read.publications[0]->data(), "3");
  EXPECT_EQ(read.publications[0]->channel(), "a");
  EXPECT_EQ(read.publications[0]->epoch(), epoch);
}

TEST(MemoryStreamEngineHistoryTest, AnotherEpochIsNeverRecovered) {
  Router router;
  MemoryStreamEngine registry(router);
  registry.publish(item("a", "", "1", "", 0, HistoryPolicy{100, 0}, {}));
  auto read = registry.history("a", HistoryQuery{0, "0123456789abcdef", 0, 0}, 0);
  EXPECT_FALSE(read.recovered);
  EXPECT_EQ(read.publications.size(), 1u) << "History still lists what it has, from the start";
  // Unknown channel: nothing was missed from no position, but a position proves a lost epoch.
  EXPECT_TRUE(registry.history("never", HistoryQuery{0, "", 0, 0}, 0).recovered);
  EXPECT_FALSE(registry.history("never", HistoryQuery{3, "0123456789abcdef", 0, 0}, 0).recovered);
}

TEST(MemoryStreamEngineHistoryTest, WithoutHistoryAGapCannotBeRecovered) {
  Router router;
  MemoryStreamEngine registry(router);
  auto out = registry.publish(item("a", "", "1", "", 0, HistoryPolicy{}, {}));
  registry.publish(item("a", "", "2", "", 0, HistoryPolicy{}, {}));
  EXPECT_FALSE(registry.history("a", HistoryQuery{1, out.epoch, 0, 0}, 0).recovered);
  EXPECT_TRUE(registry.history("a", HistoryQuery{2, out.epoch, 0, 0}, 0).recovered);
}

TEST(MemoryStreamEngineHistoryTest, UserStreamsAreSeparateFromChannelsAndRouteToTheUser) {
  Router router;
  MemoryStreamEngine registry(router);
  auto node = std::make_shared<NiceMock<MockNodeSink>>("n1");
  router.setNode(node, {}, {"alice"});
  ControlMessagePtr seen;
  EXPECT_CALL(*node, send(_)).WillOnce(Invoke([&](ControlMessagePtr m) {
    seen = m;
    return true;
  }));
  auto first =
      registry.sendToUser(UserPublishItem{"alice", "notice", "{}", 7, HistoryPolicy{10, 0}});
  auto second =
      registry.sendToUser(UserPublishItem{"bob", "notice", "{}", 7, HistoryPolicy{10, 0}});
  EXPECT_EQ(first.offset, 1u);
  EXPECT_EQ(first.nodes, 1u);
  EXPECT_EQ(second.nodes, 0u);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->deliver().target(), herald::v1::DELIVERY_TARGET_USER);
  EXPECT_EQ(seen->deliver().user(), "alice");
  EXPECT_EQ(seen->deliver().publication().offset(), 1u);
  auto read = registry.userHistory("alice", HistoryQuery{0, "", 0, 0}, 0);
  EXPECT_TRUE(read.recovered);
  ASSERT_EQ(read.publications.size(), 1u);
  EXPECT_TRUE(registry.list().value().empty()) << "user streams are not channels";
}

TEST(MemoryStreamEngineHistoryTest, ExpireDropsHistoryPastTheTtl) {
  Router router;
  MemoryStreamEngine registry(router);
  const int64_t now = steadyMillis();
  registry.publish(item("a", "", "1", "", 0, HistoryPolicy{10, 1}, {}));
  registry.sendToUser(UserPublishItem{"alice", "", "1", 0, HistoryPolicy{10, 1}});
  EXPECT_EQ(registry.expire(now + 10000), 2u);
  EXPECT_EQ(registry.list().value()["a"].history, 0u);
  EXPECT_EQ(registry.list().value()["a"].offset, 1u) << "the channel keeps its offset";
}

}  // namespace
}  // namespace herald::control
