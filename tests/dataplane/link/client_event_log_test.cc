// The node's record of its connections for herald-control's client events: in order, off
// unless asked for, bounded, and sent in parts (a full list instead of an unbounded backlog).
#include "dataplane/link/client_event_log.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

using herald::v1::ClientEvent;

// Seals and takes every part: the messages the NodeLink writer would send.
std::vector<herald::v1::InterestDelta> drain(ClientEventLog& log) {
  log.seal();
  std::vector<herald::v1::InterestDelta> out;
  herald::v1::InterestDelta delta;
  while (log.takeDelta(&delta)) {
    out.push_back(std::move(delta));
    delta.Clear();
  }
  return out;
}

std::vector<std::string> kinds(const herald::v1::InterestDelta& delta) {
  std::vector<std::string> out;
  for (const auto& e : delta.client_events()) {
    out.push_back(ClientEvent::Kind_Name(e.kind()) + " " + e.client() + " " + e.user() +
                  e.channel());
  }
  return out;
}

TEST(ClientEventLogTest, OffItRecordsNothing) {
  ClientEventLog log;
  log.connected("c1", "alice");
  EXPECT_TRUE(drain(log).empty());
  EXPECT_EQ(log.clients(), 0u);
}

TEST(ClientEventLogTest, SwitchedOnItSendsItsFullListThenEventsInOrder) {
  ClientEventLog log;
  int notified = 0;
  log.setNotifier([&] { ++notified; });
  log.setEnabled(true);
  auto first = drain(log);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].clients_full() && first[0].clients_end()) << "an empty list, at once";
  EXPECT_EQ(first[0].clients_size(), 0);

  log.connected("c1", "");
  log.subscribed("c1", "chat:1");
  log.subscribed("c2", "chat:1");  // never connected here: not reported
  log.connected("c2", "bob");
  log.identified("c1", "alice");
  log.unsubscribed("c1", "chat:1");
  log.subscribed("c1", "chat:2");
  log.disconnected("c2", 1001, "going away");
  EXPECT_EQ(notified, 7);
  auto events = drain(log);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(kinds(events[0]),
            (std::vector<std::string>{"KIND_CONNECTED c1 ", "KIND_SUBSCRIBED c1 chat:1",
                                      "KIND_CONNECTED c2 bob", "KIND_IDENTIFIED c1 alice",
                                      "KIND_UNSUBSCRIBED c1 chat:1", "KIND_SUBSCRIBED c1 chat:2",
                                      "KIND_DISCONNECTED c2 "}));
  EXPECT_EQ(events[0].client_events(6).code(), 1001u);
  EXPECT_EQ(events[0].client_events(6).reason(), "going away");
  EXPECT_TRUE(drain(log).empty()) << "each event goes out once";

  // A new link: the full list again, with the user the connection has now.
  log.requestFull();
  log.subscribed("c1", "chat:3");
  auto full = drain(log);
  ASSERT_EQ(full.size(), 1u);
  ASSERT_EQ(full[0].clients_size(), 1);
  EXPECT_EQ(full[0].clients(0).user(), "alice");
  EXPECT_EQ(std::vector<std::string>(full[0].clients(0).channels().begin(),
                                     full[0].clients(0).channels().end()),
            (std::vector<std::string>{"chat:2", "chat:3"}));
  EXPECT_EQ(full[0].client_events_size(), 0) << "what happened before is in the list";
}

TEST(ClientEventLogTest, AServerCloseTheTransportCouldNotFinishKeepsItsCode) {
  ClientEventLog log;
  log.setEnabled(true);
  drain(log);
  log.connected("c1", "alice");
  log.connected("c2", "bob");
  log.closing("c1", 4008, "slow consumer: outbound queue full");
  log.disconnected("c1", 1006, "Timer Expired");
  log.closing("c2", 4100, "disconnected by server");
  log.disconnected("c2", 4100, "disconnected by server");
  auto events = drain(log);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events[0].client_events_size(), 4);
  EXPECT_EQ(events[0].client_events(2).code(), 4008u);
  EXPECT_EQ(events[0].client_events(2).reason(), "slow consumer: outbound queue full");
  EXPECT_EQ(events[0].client_events(3).code(), 4100u);
}

TEST(ClientEventLogTest, PastItsBoundTheFullListGoesInPartsInstead) {
  ClientEventLog log;
  log.setEnabled(true);
  drain(log);
  const std::string user(200, 'u');
  for (size_t i = 0; i <= ClientEventLog::kMaxPending; ++i) {
    log.connected("c" + std::to_string(i), user);
  }
  log.disconnected("c0", 1000, "");
  auto parts = drain(log);
  ASSERT_GT(parts.size(), 1u) << "about 22 MB of names do not go in one message";
  EXPECT_TRUE(parts.front().clients_full());
  size_t listed = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].clients_full(), i == 0);
    EXPECT_EQ(parts[i].clients_end(), i + 1 == parts.size());
    EXPECT_EQ(parts[i].client_events_size(), 0);
    EXPECT_LE(parts[i].ByteSizeLong(), 2u * ClientEventLog::kMaxPartBytes);
    listed += static_cast<size_t>(parts[i].clients_size());
  }
  EXPECT_EQ(listed, ClientEventLog::kMaxPending);
  log.connected("late", "u");
  auto next = drain(log);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(next[0].clients_full()) << "back to events once the list went out";
  EXPECT_EQ(next[0].client_events_size(), 1);
}

TEST(ClientEventLogTest, SwitchedOffItForgetsEverything) {
  ClientEventLog log;
  log.setEnabled(true);
  log.connected("c1", "alice");
  log.setEnabled(false);
  log.setEnabled(true);
  log.disconnected("c1", 1000, "");
  auto parts = drain(log);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_TRUE(parts[0].clients_end());
  EXPECT_EQ(parts[0].clients_size(), 0) << "a connection from before is not known any more";
  EXPECT_EQ(parts[0].client_events_size(), 0);
}

}  // namespace
}  // namespace herald::node
