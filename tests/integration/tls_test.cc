// gRPC over TLS and mutual TLS between real processes, with certificates made by the test.
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/raw_ws.h"
#include "integration/support/test_pki.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(data_.path() + "/control.json") << defaultControlConfig().dump();
    control_ = std::make_unique<Process>(
        controlBinary(),
        std::vector<std::string>{
            "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir",
            data_.path() + "/state", "--config", data_.path() + "/control.json", "--admin-key",
            kTestAdminKey, "--node-secret", kTestNodeSecret, "--tls-cert", pki_.path("server.pem"),
            "--tls-key", pki_.path("server.key"), "--tls-client-ca", pki_.path("ca.pem")});
    auto address = control_->waitListening(30s);
    ASSERT_TRUE(address.has_value()) << control_->output();
    control_address_ = *address;
    EXPECT_NE(control_->output().find("gRPC over TLS with client certificates"), std::string::npos);
  }

  CommandResult ctl(std::vector<std::string> args, bool client_cert = true) {
    std::vector<std::string> full = {"--control", control_address_,    "--api-key", kTestAdminKey,
                                     "--tls-ca",  pki_.path("ca.pem"), "--timeout", "5"};
    if (client_cert) {
      full.insert(full.end(),
                  {"--tls-cert", pki_.path("client.pem"), "--tls-key", pki_.path("client.key")});
    }
    full.insert(full.end(), args.begin(), args.end());
    return runCommand(heraldctlBinary(), full, 30s);
  }

  Pki pki_;
  TempDir data_;
  std::unique_ptr<Process> control_;
  std::string control_address_;
};

TEST_F(TlsTest, NodeAndHeraldctlWorkOverMutualTls) {
  Process node(
      nodeBinary(),
      {"--listen", "127.0.0.1:0", "--control", control_address_, "--node-secret", kTestNodeSecret,
       "--control-tls-ca", pki_.path("ca.pem"), "--control-tls-cert", pki_.path("client.pem"),
       "--control-tls-key", pki_.path("client.key"), "--reconnect-max-ms", "500"});
  auto ws_address = node.waitListening(30s);
  ASSERT_TRUE(ws_address.has_value()) << node.output();
  ASSERT_TRUE(eventually(
      [&] {
        auto r = ctl({"--json", "nodes"});
        return r.exit_code == 0 && r.out.find("NODE_HEALTH_HEALTHY") != std::string::npos &&
               r.out.find("\"config_version_acked\": \"0\"") == std::string::npos;
      },
      20s))
      << node.output() << control_->output();

  WsClient ws("ws://" + *ws_address + "/ws?subscribe=tls:demo");
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  ASSERT_TRUE(eventually(
      [&] {
        auto r = ctl({"--json", "publish", "tls:demo", "{\"secure\":true}"});
        return r.exit_code == 0 && nlohmann::json::parse(r.out)["nodes"] == 1;
      },
      20s));
  auto frame = ws.nextOfType("message", 10s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ((*frame)["data"]["secure"], true);
}

TEST_F(TlsTest, CallersWithoutTheRightCredentialsAreRefused) {
  auto no_client_cert = ctl({"info"}, /*client_cert=*/false);
  EXPECT_EQ(no_client_cert.exit_code, 1) << "mTLS: a caller without a certificate gets nowhere";
  auto plaintext = runCommand(
      heraldctlBinary(),
      {"--control", control_address_, "--api-key", kTestAdminKey, "--timeout", "5", "info"}, 30s);
  EXPECT_EQ(plaintext.exit_code, 1);
  auto no_key = runCommand(
      heraldctlBinary(),
      {"--control", control_address_, "--tls-ca", pki_.path("ca.pem"), "--tls-cert",
       pki_.path("client.pem"), "--tls-key", pki_.path("client.key"), "--timeout", "5", "info"},
      30s);
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("UNAUTHENTICATED"), std::string::npos)
      << "TLS does not replace the API key: " << no_key.err;
  auto ok = ctl({"info"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(TlsTest, NodeWithoutClientCertificateNeverJoins) {
  Process node(nodeBinary(), {"--listen", "127.0.0.1:0", "--control", control_address_,
                              "--node-secret", kTestNodeSecret, "--control-tls-ca",
                              pki_.path("ca.pem"), "--reconnect-max-ms", "200"});
  ASSERT_TRUE(node.waitListening(30s).has_value());
  // Give it several redials, then check the control plane never registered it.
  ASSERT_TRUE(node.waitForOutput("retrying (attempt 2)", 20s)) << node.output();
  auto r = ctl({"--json", "nodes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["nodes"].size(), 0u) << r.out;
}

TEST_F(TlsTest, NodeServesWssWithItsCertificate) {
  Process node(nodeBinary(),
               {"--listen", "127.0.0.1:0", "--control", control_address_, "--node-secret",
                kTestNodeSecret, "--control-tls-ca", pki_.path("ca.pem"), "--control-tls-cert",
                pki_.path("client.pem"), "--control-tls-key", pki_.path("client.key"), "--tls-cert",
                pki_.path("server.pem"), "--tls-key", pki_.path("server.key")});
  auto address = node.waitListening(30s);
  ASSERT_TRUE(address.has_value()) << node.output();
  ASSERT_TRUE(eventually(
      [&] {
        RawWs probe(*address, "/ws", {}, pki_.path("ca.pem"));
        return probe.ok();
      },
      20s))
      << node.output();
  RawWs wss(*address, "/ws?subscribe=tls:wss", {}, pki_.path("ca.pem"));
  ASSERT_TRUE(wss.ok());
  auto connected = wss.readFrame(10s);
  ASSERT_TRUE(connected.has_value());
  auto c = nlohmann::json::parse(connected->payload);
  EXPECT_EQ(c["type"], "connected");
  EXPECT_EQ(c["subscribed"], nlohmann::json::array({"tls:wss"}));
  ASSERT_TRUE(wss.sendFrame(0x1, R"({"type":"ping","id":3})"));
  auto pong = wss.readFrame(10s);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(nlohmann::json::parse(pong->payload)["id"], 3);
  // A plaintext client gets no WebSocket out of a TLS port.
  RawWs plain(*address, "/ws");
  EXPECT_FALSE(plain.ok());

  // Server-Sent Events over the same TLS port (curl as the client): the stream opens and
  // greets, and a POST is answered; the ssl stream carries both directions at once.
  Process stream("/usr/bin/curl", {"-sN", "--cacert", pki_.path("ca.pem"),
                                   "https://" + *address + "/sse?subscribe=tls:sse"});
  ASSERT_TRUE(stream.waitForOutput(R"("subscribed":["tls:sse"])", 10s)) << stream.output();
  EXPECT_NE(stream.output().find("retry: "), std::string::npos);
  auto post =
      runCommand("/usr/bin/curl",
                 {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pki_.path("ca.pem"),
                  "-H", "Content-Type: text/plain", "-d", "x", "https://" + *address + "/sse"},
                 10s);
  EXPECT_EQ(post.out, "415");
  stream.stop(SIGTERM, 10s);
}

}  // namespace
}  // namespace herald::testing
