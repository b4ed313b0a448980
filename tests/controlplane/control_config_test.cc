#include "controlplane/control_config.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/config_reader.h"

namespace herald::control {
namespace {

std::string writeFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

ControlConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "herald-control");
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  return parseControlArgs(static_cast<int>(argv.size()), argv.data());
}

std::string errorOf(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ControlConfigTest, DefaultsAreValid) {
  ControlConfig c = parse({});
  EXPECT_EQ(c.grpc_listen, "127.0.0.1:7070");
  EXPECT_EQ(c.heartbeat_interval_ms, 1000u);
}

TEST(ControlConfigTest, FileThenFlagsOverride) {
  const auto path = writeFile("control-ok.json", R"({
    "grpc_listen": "127.0.0.1:9000", "heartbeat_interval_ms": 200, "node_timeout_ms": 1000,
    "namespaces": [{"name": "token", "subscribe_rule": "public", "history_size": 10},
                   {"name": "balance", "subscribe_rule": "owner", "owner_claim": "address"}],
    "limits": {"max_subscriptions_per_connection": 20, "allowed_origins": ["https://a.example"]}
  })");
  ControlConfig c = parse({"--config", path, "--grpc-listen", "127.0.0.1:0"});
  EXPECT_EQ(c.grpc_listen, "127.0.0.1:0");
  EXPECT_EQ(c.heartbeat_interval_ms, 200u);
  ASSERT_EQ(c.namespaces.size(), 2u);
  EXPECT_EQ(c.namespaces[1].subscribe_rule(), herald::v1::SUBSCRIBE_RULE_OWNER);
  EXPECT_EQ(c.namespaces[1].owner_claim(), "address");
  EXPECT_EQ(c.limits.max_subscriptions_per_connection(), 20u);
  EXPECT_EQ(c.limits.allowed_origins_size(), 1);
}

TEST(ControlConfigTest, RejectsBadInputWithClearMessages) {
  EXPECT_NE(errorOf({"--grpc-listen", "nonsense"}).find("grpc_listen"), std::string::npos);
  EXPECT_NE(errorOf({"--bogus", "1"}).find("--bogus: unknown flag"), std::string::npos);
  EXPECT_NE(errorOf({"--data-dir"}).find("missing value"), std::string::npos);
  EXPECT_NE(errorOf({"--heartbeat-interval-ms", "abc"}).find("expected a positive integer"),
            std::string::npos);
  EXPECT_NE(errorOf({"--node-timeout-ms", "1500"}).find("at least twice"), std::string::npos);
  EXPECT_NE(errorOf({"--log-format", "xml"}).find("log_format"), std::string::npos);

  const auto typo = writeFile("control-typo.json", R"({"grpc_lisen": "x"})");
  EXPECT_NE(errorOf({"--config", typo}).find("grpc_lisen: unknown setting"), std::string::npos);
  const auto rule = writeFile("control-rule.json",
                              R"({"namespaces": [{"name": "a", "subscribe_rule": "everyone"}]})");
  EXPECT_NE(errorOf({"--config", rule}).find("'everyone' is not one of"), std::string::npos);
  const auto dup =
      writeFile("control-dup.json", R"({"namespaces": [{"name": "a"}, {"name": "a"}]})");
  EXPECT_NE(errorOf({"--config", dup}).find("defined twice"), std::string::npos);
  const auto type =
      writeFile("control-type.json", R"({"limits": {"max_connections_per_node": "9"}})");
  EXPECT_NE(errorOf({"--config", type}).find("limits.max_connections_per_node: expected"),
            std::string::npos);
  const auto frame =
      writeFile("control-frame.json", R"({"limits": {"max_inbound_frame_bytes": 10}})");
  EXPECT_NE(errorOf({"--config", frame}).find("max_inbound_frame_bytes below 256"),
            std::string::npos);
}

}  // namespace
}  // namespace herald::control
