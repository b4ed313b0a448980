#include "dataplane/link/control_endpoints.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/config_reader.h"
#include "dataplane/node_config.h"

namespace herald::node {
namespace {

using std::chrono::milliseconds;
using Addresses = std::vector<std::string>;

// --- parseList ---------------------------------------------------------------------------

TEST(ControlEndpointsParseTest, OneAddressIsAListOfOne) {
  auto list = ControlEndpoints::parseList("127.0.0.1:7070");
  ASSERT_TRUE(list.isOk()) << list.status().message();
  EXPECT_EQ(list.value(), Addresses({"127.0.0.1:7070"}));
}

TEST(ControlEndpointsParseTest, KeepsOrderAndTrimsSpaces) {
  auto list = ControlEndpoints::parseList("b.example:7070, a.example:7071 ,[::1]:7072");
  ASSERT_TRUE(list.isOk()) << list.status().message();
  EXPECT_EQ(list.value(), Addresses({"b.example:7070", "a.example:7071", "[::1]:7072"}));
}

TEST(ControlEndpointsParseTest, RejectsEmptyItems) {
  for (const char* text : {"", " ", "a:1,,b:2", "a:1,", ",a:1", "a:1, ,b:2"}) {
    auto list = ControlEndpoints::parseList(text);
    ASSERT_FALSE(list.isOk()) << text;
    EXPECT_NE(list.status().message().find(std::string(text).find(':') == std::string::npos
                                               ? "no address"
                                               : "empty address"),
              std::string::npos)
        << text << ": " << list.status().message();
  }
}

TEST(ControlEndpointsParseTest, RejectsItemsThatAreNotHostPort) {
  for (const char* text : {"a:1,b", "a:1,b:", "a:1,:7070", "a:1,b:70700", "a:1,b:x"}) {
    auto list = ControlEndpoints::parseList(text);
    ASSERT_FALSE(list.isOk()) << text;
    EXPECT_NE(list.status().message().find("'"), std::string::npos) << list.status().message();
  }
  auto list = ControlEndpoints::parseList("a:1,bad");
  EXPECT_EQ(list.status().message(), "'bad' is not HOST:PORT (e.g. 127.0.0.1:7070)");
}

TEST(ControlEndpointsParseTest, RejectsDuplicates) {
  for (const char* text : {"a:1,a:1", "a:1,b:2, a:1", "Host:7070,host:7070", "a:7070,a:07070"}) {
    auto list = ControlEndpoints::parseList(text);
    ASSERT_FALSE(list.isOk()) << text;
    EXPECT_NE(list.status().message().find("is listed twice"), std::string::npos)
        << list.status().message();
  }
  // Same host, other port: two control planes.
  EXPECT_TRUE(ControlEndpoints::parseList("a:7070,a:7071").isOk());
}

// --- NodeConfig ----------------------------------------------------------------------------

TEST(ControlEndpointsConfigTest, FlagAndFileAcceptAList) {
  NodeConfig config;
  config.control = "a:1,b:2";
  EXPECT_NO_THROW(validateNodeConfig(config));
  EXPECT_EQ(controlAddresses(config), Addresses({"a:1", "b:2"}));

  const std::string file = ::testing::TempDir() + "/control_endpoints_test.json";
  std::ofstream(file) << R"({"control": ["c:3", "d:4"]})";
  loadNodeConfigFile(file, &config);
  EXPECT_EQ(controlAddresses(config), Addresses({"c:3", "d:4"}));
  std::ofstream(file) << R"({"control": "e:5,f:6"})";
  loadNodeConfigFile(file, &config);
  EXPECT_EQ(controlAddresses(config), Addresses({"e:5", "f:6"}));
  std::ofstream(file) << R"({"control": 7})";
  EXPECT_THROW(loadNodeConfigFile(file, &config), ConfigError);
  std::remove(file.c_str());
}

TEST(ControlEndpointsConfigTest, ValidationNamesTheSetting) {
  NodeConfig config;
  config.control = "a:1,,b:2";
  try {
    validateNodeConfig(config);
    FAIL() << "accepted an empty item";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "control: empty address in 'a:1,,b:2' (expected HOST:PORT[,HOST:PORT...])");
  }
  config.control = "a:1,a:1";
  EXPECT_THROW(validateNodeConfig(config), ConfigError);
}

// --- rotation and backoff -------------------------------------------------------------------

TEST(ControlEndpointsTest, StartsOnTheFirstAddressAndRotatesRoundRobin) {
  ControlEndpoints e({"a:1", "b:2", "c:3"}, 5000, /*seed=*/1);
  EXPECT_EQ(e.current(), "a:1");
  std::vector<std::string> order;
  for (int i = 0; i < 7; ++i) {
    e.onFailure();
    order.push_back(e.current());
  }
  EXPECT_EQ(order, Addresses({"b:2", "c:3", "a:1", "b:2", "c:3", "a:1", "b:2"}));
}

TEST(ControlEndpointsTest, ABrokenSessionMovesOnToTheNextAddressAtOnce) {
  ControlEndpoints e({"a:1", "b:2"}, 5000, /*seed=*/2);
  // Failures pile up first: the delay after a broken session must not inherit them.
  for (int i = 0; i < 8; ++i) {
    e.onFailure();
  }
  EXPECT_EQ(e.current(), "a:1");
  e.onConnected();
  const milliseconds delay = e.onFailure();
  EXPECT_EQ(e.current(), "b:2") << "a replica that was up died: try the next one";
  EXPECT_GE(delay.count(), 50);
  EXPECT_LE(delay.count(), 100);
  EXPECT_EQ(e.failures(), 0u);
}

TEST(ControlEndpointsTest, BacksOffPerRoundOfFailedAddressesAndIsCapped) {
  constexpr uint32_t kMax = 1000;
  ControlEndpoints e({"a:1", "b:2"}, kMax, /*seed=*/3);
  // Round r completes at failure 2r; the attempt inside a round waits only the base.
  const uint64_t expected_ceiling[] = {100, 200, 100, 400, 100, 800, 100, 1000, 100, 1000};
  for (uint64_t ceiling : expected_ceiling) {
    const milliseconds delay = e.onFailure();
    EXPECT_GE(static_cast<uint64_t>(delay.count()), ceiling / 2) << "ceiling " << ceiling;
    EXPECT_LE(static_cast<uint64_t>(delay.count()), ceiling) << "ceiling " << ceiling;
  }
}

TEST(ControlEndpointsTest, OneAddressKeepsTheHistoricalBackoff) {
  // min(max, 100 ms × 2^attempt), attempt reset by a session that was up.
  ControlEndpoints e({"only:1"}, 5000, /*seed=*/4);
  for (uint32_t attempt = 1; attempt <= 12; ++attempt) {
    const auto delay = static_cast<uint64_t>(e.onFailure().count());
    const uint64_t ceiling = std::min<uint64_t>(5000, 100ull << attempt);
    EXPECT_GE(delay, ceiling / 2) << "attempt " << attempt;
    EXPECT_LE(delay, ceiling) << "attempt " << attempt;
    EXPECT_EQ(e.current(), "only:1");
    EXPECT_EQ(e.failures(), attempt);
  }
  e.onConnected();
  const auto after_session = static_cast<uint64_t>(e.onFailure().count());
  EXPECT_GE(after_session, 50u);
  EXPECT_LE(after_session, 100u);
  const auto next = static_cast<uint64_t>(e.onFailure().count());
  EXPECT_GE(next, 100u) << "the count starts again from 1 after a session that was up";
  EXPECT_LE(next, 200u);
}

TEST(ControlEndpointsTest, CeilingIsExponentialAndCapped) {
  EXPECT_EQ(ControlEndpoints::ceilingMs(0, 5000), 100u);
  EXPECT_EQ(ControlEndpoints::ceilingMs(1, 5000), 200u);
  EXPECT_EQ(ControlEndpoints::ceilingMs(5, 5000), 3200u);
  EXPECT_EQ(ControlEndpoints::ceilingMs(6, 5000), 5000u);
  EXPECT_EQ(ControlEndpoints::ceilingMs(1000, 5000), 5000u);
  EXPECT_EQ(ControlEndpoints::ceilingMs(1000, 600000), 600000u) << "no overflow, max reachable";
}

TEST(ControlEndpointsTest, DelaysAreJitteredAcrossTheWholeRange) {
  // At the cap the delay is drawn from [max/2, max]: it must spread, not sit on one value.
  constexpr uint32_t kMax = 1000;
  ControlEndpoints e({"only:1"}, kMax, /*seed=*/5);
  for (int i = 0; i < 20; ++i) {
    e.onFailure();
  }
  uint64_t low = UINT64_MAX, high = 0;
  for (int i = 0; i < 500; ++i) {
    const auto d = static_cast<uint64_t>(e.onFailure().count());
    ASSERT_GE(d, kMax / 2);
    ASSERT_LE(d, kMax);
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_LT(low, 600u);
  EXPECT_GT(high, 900u);
}

TEST(ControlEndpointsTest, SeparateNodesDoNotRetryInLockstep) {
  ControlEndpoints a({"x:1", "y:2"}, 5000, /*seed=*/6);
  ControlEndpoints b({"x:1", "y:2"}, 5000, /*seed=*/7);
  int same = 0;
  for (int i = 0; i < 20; ++i) {
    same += a.onFailure() == b.onFailure();
  }
  EXPECT_LT(same, 10);
}

}  // namespace
}  // namespace herald::node
