#include "dataplane/node_config.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/config_reader.h"

namespace herald::node {
namespace {

// The error text of loading `json` as a node config file ("" when it loads and validates).
std::string loadError(const std::string& json) {
  const std::string file = ::testing::TempDir() + "/node_config_test.json";
  std::ofstream(file) << json;
  NodeConfig config;
  try {
    loadNodeConfigFile(file, &config);
    validateNodeConfig(config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(NodeConfigTest, EmbeddedDefaultsAreTheDocumentedAddresses) {
  NodeConfig config;
  EXPECT_EQ(config.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.control, "127.0.0.1:7070");
  EXPECT_EQ(config.handshake_timeout_ms, 5000u);
  EXPECT_EQ(config.reconnect_max_ms, 1000u) << "a restarted control plane is found within ~1 s";
  EXPECT_NO_THROW(validateNodeConfig(config));
}

TEST(NodeConfigTest, FileValuesAreRead) {
  const std::string file = ::testing::TempDir() + "/node_config_values.json";
  std::ofstream(file) << R"({"listen":"0.0.0.0:9000","node_id":"edge-1","shards":2})";
  NodeConfig config;
  loadNodeConfigFile(file, &config);
  EXPECT_EQ(config.listen, "0.0.0.0:9000");
  EXPECT_EQ(config.node_id, "edge-1");
  EXPECT_EQ(config.shards, 2u);
}

TEST(NodeConfigTest, BadFilesAreRefusedWithTheSettingNamed) {
  EXPECT_NE(loadError(R"({"listne":"127.0.0.1:1"})").find("listne"), std::string::npos)
      << "unknown keys are errors, not ignored";
  EXPECT_NE(loadError(R"({"shards":"two"})").find("shards"), std::string::npos);
  EXPECT_NE(loadError(R"({"listen":8080})").find("listen"), std::string::npos);
  EXPECT_NE(loadError(R"({"listen":"nowhere"})").find("listen"), std::string::npos);
  EXPECT_FALSE(loadError("{not json").empty());
  EXPECT_EQ(loadError(R"({"node_id":")" + std::string(129, 'n') + R"("})"),
            "node_id: 1..128 of A-Z a-z 0-9 . _ : -");
  // An id reaches logs and tables on the control plane: no control characters or spaces.
  EXPECT_EQ(loadError(R"({"node_id":"n1\n2026-12-05 [info] forged"})"),
            "node_id: 1..128 of A-Z a-z 0-9 . _ : -");
  EXPECT_EQ(loadError(R"({"node_id":")" + std::string(128, 'n') + R"("})"), "");
  EXPECT_EQ(loadError(R"({"tls_cert":"a.pem"})"), "tls_cert and tls_key go together");
}

TEST(NodeConfigTest, CompressionIsOffByDefaultAndItsSettingsAreBounded) {
  NodeConfig defaults;
  EXPECT_FALSE(defaults.compression);
  EXPECT_EQ(defaults.compression_min_bytes, 256u);
  EXPECT_EQ(defaults.compression_level, 1u);
  EXPECT_EQ(loadError(R"({"compression":true,"compression_min_bytes":0,"compression_level":9})"),
            "");
  EXPECT_NE(loadError(R"({"compression":"yes"})").find("compression"), std::string::npos);
  EXPECT_NE(loadError(R"({"compression_level":0})").find("compression_level"), std::string::npos);
  EXPECT_NE(loadError(R"({"compression_level":10})").find("compression_level"), std::string::npos);
  EXPECT_NE(loadError(R"({"compression_min_bytes":67108865})").find("compression_min_bytes"),
            std::string::npos);
  NodeConfig flags;
  flags.compression_level = 0;  // as --compression-level 0 leaves it
  EXPECT_THROW(validateNodeConfig(flags), ConfigError);
}

TEST(NodeConfigTest, TheNodeSecretComesFromItsFile) {
  const std::string file = ::testing::TempDir() + "/node_config_secret";
  std::ofstream(file) << "0123456789abcdef0123456789abcdef\n";
  NodeConfig config;
  config.node_secret_file = file;
  resolveNodeSecret(&config);
  EXPECT_EQ(config.node_secret, "0123456789abcdef0123456789abcdef");

  NodeConfig missing;
  missing.node_secret_file = ::testing::TempDir() + "/no-such-secret";
  EXPECT_THROW(resolveNodeSecret(&missing), ConfigError) << "a named file must exist";
  std::ofstream(file, std::ios::trunc) << "\n";
  NodeConfig empty;
  empty.node_secret_file = file;
  EXPECT_THROW(resolveNodeSecret(&empty), ConfigError);

  NodeConfig both;
  both.node_secret = "given-on-the-command-line";
  both.node_secret_file = file;
  EXPECT_THROW(validateNodeConfig(both), ConfigError);
}

TEST(NodeConfigTest, ARemoteControlPlaneIsNotGivenTheLocalSecretFile) {
  NodeConfig config;
  config.control = "10.1.2.3:7070";
  resolveNodeSecret(&config);  // ./herald-data/node.secret is for a control plane on this host
  EXPECT_TRUE(config.node_secret.empty());
}

}  // namespace
}  // namespace herald::node
