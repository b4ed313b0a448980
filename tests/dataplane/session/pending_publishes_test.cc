#include "dataplane/session/pending_publishes.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

struct Conn {};

TEST(PendingPublishesTest, AnswerTakesItsEntryOnce) {
  PendingPublishes<Conn> pending;
  Conn a;
  pending.add(1, {&a, 7, 100});
  auto entry = pending.take(1);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->con, &a);
  EXPECT_EQ(entry->frame_id, 7u);
  EXPECT_FALSE(pending.take(1).has_value()) << "a second answer finds nothing";
  EXPECT_FALSE(pending.take(99).has_value());
}

TEST(PendingPublishesTest, OverdueEntriesLeaveAndLateAnswersFindNothing) {
  PendingPublishes<Conn> pending;
  Conn a;
  pending.add(1, {&a, 1, 100});
  pending.add(2, {&a, 2, 200});
  auto overdue = pending.takeOverdue(150);
  ASSERT_EQ(overdue.size(), 1u);
  EXPECT_EQ(overdue[0].frame_id, 1u);
  EXPECT_FALSE(pending.take(1).has_value());
  EXPECT_EQ(pending.size(), 1u);
}

TEST(PendingPublishesTest, ClosedConnectionsAreForgotten) {
  PendingPublishes<Conn> pending;
  Conn a, b;
  pending.add(1, {&a, 1, 100});
  pending.add(2, {&b, 2, 100});
  pending.add(3, {&a, 3, 100});
  pending.forget(&a);
  EXPECT_EQ(pending.size(), 1u);
  EXPECT_FALSE(pending.take(1).has_value());
  EXPECT_TRUE(pending.take(2).has_value());
}

}  // namespace
}  // namespace herald::node
