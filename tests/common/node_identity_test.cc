#include "common/node_identity.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(NodeIdentityTest, AClientIdNamesItsNodesShard) {
  EXPECT_EQ(clientShard("node-127.0.0.1-8080", "node-127.0.0.1-8080-3-17"), 3);
  EXPECT_EQ(clientShard("edge", "edge-0-0"), 0);
  EXPECT_EQ(clientShard("edge", "edge-12-99999999999999999999"), 12);
}

TEST(NodeIdentityTest, IdsOfOtherNodesAndMalformedOnesNameNoShard) {
  // "edge-2-0-7" is node "edge-2"'s, not node "edge"'s: its sequence would be "0-7".
  EXPECT_EQ(clientShard("edge", "edge-2-0-7"), -1);
  EXPECT_EQ(clientShard("edge-2", "edge-2-0-7"), 0);
  for (const char* id :
       {"", "edge", "edge-", "edge-1", "edge-1-", "edge--1", "edge-a-1", "edge-1-a", "edge-12345-1",
        "edge-1-123456789012345678901", "edgy-1-1", "other-1-1", "edge-1-1 "}) {
    EXPECT_EQ(clientShard("edge", id), -1) << id;
  }
}

}  // namespace
}  // namespace herald
