// The README's 5-minute tour as a newcomer runs it: herald-control on a fresh data directory
// with scripts/dev-control.json (what scripts/run.sh gives it), one node, an anonymous
// client on ?subscribe=token:price, and heraldctl run next to herald-data/ exactly as the
// README writes it; Ctrl-C stops both daemons cleanly.
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(QuickstartTest, TourWorksAsPastedAndCtrlCStopsBoth) {
  TempDir dir;  // plays the repository root: run.sh keeps its data in ./herald-data
  Process control(controlBinary(), {"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                                    "--data-dir", dir.path() + "/herald-data", "--config",
                                    std::string(HERALD_SOURCE_DIR) + "/scripts/dev-control.json"});
  auto control_address = control.waitListening(30s);
  ASSERT_TRUE(control_address) << control.output();
  const std::string key = readFile(dir.path() + "/herald-data/admin.key");
  ASSERT_FALSE(key.empty()) << "the first start writes the admin key";
  EXPECT_TRUE(control.waitForOutput(key, 10s)) << "and logs it once";

  // The first start also generated the node secret, for nodes on this host only.
  const std::string secret_file = dir.path() + "/herald-data/node.secret";
  struct stat st {};
  ASSERT_EQ(::stat(secret_file.c_str(), &st), 0) << control.output();
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A node without it is refused, even on this host.
  Process intruder(nodeBinary(), {"--listen", "127.0.0.1:0", "--control", *control_address,
                                  "--reconnect-max-ms", "200"});
  EXPECT_TRUE(intruder.waitForOutput("wrong or missing node secret", 30s)) << intruder.output();
  intruder.stop(SIGKILL, 10s);
  // As run.sh starts it.
  Process node(nodeBinary(), {"--listen", "127.0.0.1:0", "--control", *control_address,
                              "--node-secret-file", secret_file});
  auto node_address = node.waitListening(30s);
  ASSERT_TRUE(node_address) << node.output();
  auto stub = controlStub(*control_address, key);
  // Upgrades wait for the node's first config (503 until then).
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext ctx;
        herald::v1::ListNodesResponse nodes;
        return stub->ListNodes(&ctx, herald::v1::ListNodesRequest(), &nodes).ok() &&
               nodes.nodes_size() == 1 && nodes.nodes(0).config_version_acked() > 0;
      },
      15s));

  WsClient client("ws://" + *node_address + "/ws?subscribe=token:price");
  ASSERT_TRUE(client.waitOpen(10s)) << client.failReason();
  auto connected = client.nextOfType("connected", 10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["subscribed"], nlohmann::json::array({"token:price"}));
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext ctx;
        herald::v1::ListChannelsResponse channels;
        return stub->ListChannels(&ctx, herald::v1::ListChannelsRequest(), &channels).ok() &&
               channels.channels_size() == 1 && channels.channels(0).nodes() == 1;
      },
      15s));

  // No key exported: heraldctl finds ./herald-data/admin.key, as in the README's tour.
  auto publish = runCommand("/bin/sh",
                            {"-c", "cd '" + dir.path() + "' && exec '" + heraldctlBinary() +
                                       "' publish token:price '{\"price\":50000}' "
                                       "--event price_update"},
                            30s, {"HERALD_CONTROL=" + *control_address});
  ASSERT_EQ(publish.exit_code, 0) << publish.err;
  auto frame = client.nextText(10s);
  ASSERT_TRUE(frame.has_value());
  // The frame of the issue, field for field and in this order.
  auto message = nlohmann::ordered_json::parse(*frame);
  std::vector<std::string> fields;
  for (const auto& item : message.items()) {
    fields.push_back(item.key());
  }
  EXPECT_EQ(fields,
            (std::vector<std::string>{"type", "channel", "event", "offset", "epoch", "data", "ts"}))
      << *frame;
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["channel"], "token:price");
  EXPECT_EQ(message["event"], "price_update");
  EXPECT_EQ(message["offset"], 1);
  EXPECT_FALSE(message["epoch"].get<std::string>().empty());
  EXPECT_EQ(message["data"].dump(), R"({"price":50000})");
  EXPECT_GT(message["ts"].get<int64_t>(), 1700000000000);

  // Elsewhere (no herald-data/ here, no key given) heraldctl says what is missing.
  auto keyless = runCommand("/bin/sh",
                            {"-c", std::string("cd / && exec '") + heraldctlBinary() +
                                       "' --control " + *control_address + " stats"},
                            30s);
  EXPECT_EQ(keyless.exit_code, 1);
  EXPECT_NE(keyless.err.find("no API key given"), std::string::npos) << keyless.err;

  for (Process* daemon : {&node, &control}) {
    auto status = daemon->stop(SIGINT, 15s);
    ASSERT_TRUE(status.has_value()) << "did not stop on Ctrl-C:\n" << daemon->output();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon->output();
  }
}

}  // namespace
}  // namespace herald::testing
