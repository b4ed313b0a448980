// heraldctl and the daemons' command lines as operators and scripts use them.
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
  }

  CommandResult ctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {"--control", cluster_.controlAddress(), "--api-key", kTestAdminKey});
    return runCommand(heraldctlBinary(), args, 30s, env);
  }

  Cluster cluster_;
};

TEST_F(CliTest, PublishReachesASubscribedClient) {
  WsClient ws(cluster_.wsUrl(0, "subscribe=token:price"));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  auto r = ctl({"publish", "token:price", R"({"price":50000})", "--event", "price_update"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("offset 1"), std::string::npos) << r.out;
  auto frame = ws.nextOfType("message", 10s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ((*frame)["channel"], "token:price");
  EXPECT_EQ((*frame)["event"], "price_update");
  EXPECT_EQ((*frame)["offset"], 1);
  EXPECT_EQ((*frame)["data"], nlohmann::json::parse(R"({"price":50000})"));
}

TEST_F(CliTest, JsonOutputIsMachineReadable) {
  auto pub = ctl({"--json", "publish", "a", "1"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  auto j = nlohmann::json::parse(pub.out);
  EXPECT_EQ(j["offset"], "1");  // proto3 JSON renders uint64 as a string
  EXPECT_EQ(j["epoch"].get<std::string>().size(), 16u);

  auto nodes = ctl({"nodes", "--json"});
  ASSERT_EQ(nodes.exit_code, 0) << nodes.err;
  auto n = nlohmann::json::parse(nodes.out);
  ASSERT_EQ(n["nodes"].size(), 1u);
  EXPECT_EQ(n["nodes"][0]["health"], "NODE_HEALTH_HEALTHY");
  EXPECT_EQ(n["nodes"][0]["address"], cluster_.nodeAddress(0));

  auto stats = ctl({"stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(nlohmann::json::parse(stats.out)["healthy_nodes"], 1);

  auto bc = ctl({"broadcast", R"({"n":1})", "--json"});
  ASSERT_EQ(bc.exit_code, 0) << bc.err;
  EXPECT_EQ(nlohmann::json::parse(bc.out)["nodes"], 1);
}

TEST_F(CliTest, HumanTables) {
  auto nodes = ctl({"nodes"});
  ASSERT_EQ(nodes.exit_code, 0);
  EXPECT_NE(nodes.out.find("HEALTH"), std::string::npos);
  EXPECT_NE(nodes.out.find("healthy"), std::string::npos);
  EXPECT_NE(nodes.out.find(cluster_.nodeAddress(0)), std::string::npos);
  ASSERT_EQ(ctl({"publish", "tables:a", "1"}).exit_code, 0);
  auto stats = ctl({"stats"});
  ASSERT_EQ(stats.exit_code, 0);
  EXPECT_NE(stats.out.find("healthy nodes"), std::string::npos);
  // The activity windows: the control plane has just started, so none is complete yet.
  EXPECT_NE(stats.out.find("WINDOW"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("n/a"), std::string::npos) << "1 day is not a guess: " << stats.out;
  EXPECT_NE(stats.out.find("counted since start"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("(default)"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("tables:a (1/0)"), std::string::npos) << stats.out;
  auto bc = ctl({"broadcast", "1"});
  ASSERT_EQ(bc.exit_code, 0);
  EXPECT_NE(bc.out.find("1 node(s)"), std::string::npos) << bc.out;
}

TEST_F(CliTest, ControlAddressFromEnvironment) {
  auto r = runCommand(
      heraldctlBinary(), {"stats"}, 30s,
      {"HERALD_CONTROL=" + cluster_.controlAddress(), "HERALD_API_KEY=" + kTestAdminKey});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // From "/": no ./herald-data/admin.key for heraldctl to fall back on.
  auto no_key = runCommand("/bin/sh",
                           {"-c", std::string("cd / && exec '") + heraldctlBinary() +
                                      "' --control " + cluster_.controlAddress() + " stats"},
                           30s, {"HERALD_API_KEY=", "HERALD_API_KEY_FILE="});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("UNAUTHENTICATED"), std::string::npos) << no_key.err;
  EXPECT_NE(no_key.err.find("no API key given"), std::string::npos) << no_key.err;
}

TEST_F(CliTest, ErrorsAreClearWithExitCodes) {
  auto bad = ctl({"publish", "bad channel", "1"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("INVALID_ARGUMENT"), std::string::npos) << bad.err;
  auto bad_json = ctl({"publish", "a", "{oops"});
  EXPECT_EQ(bad_json.exit_code, 1);
  EXPECT_NE(bad_json.err.find("valid JSON"), std::string::npos) << bad_json.err;
  auto usage = ctl({"publish", "only-channel"});
  EXPECT_EQ(usage.exit_code, 2);
  auto unknown = ctl({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command"), std::string::npos);
  auto down =
      runCommand(heraldctlBinary(), {"--control", "127.0.0.1:1", "--timeout", "2", "stats"}, 30s);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("is herald-control running"), std::string::npos) << down.err;
}

TEST(DaemonCommandLineTest, BadFlagsAndConfigStopStartUpWithExitCode2) {
  auto control = runCommand(controlBinary(), {"--node-timeout-ms", "10"}, 30s);
  EXPECT_EQ(control.exit_code, 2);
  EXPECT_NE(control.err.find("node_timeout_ms"), std::string::npos) << control.err;
  auto node = runCommand(nodeBinary(), {"--listen", "nowhere"}, 30s);
  EXPECT_EQ(node.exit_code, 2);
  EXPECT_NE(node.err.find("listen"), std::string::npos) << node.err;
  auto pong =
      runCommand(nodeBinary(), {"--ping-interval-ms", "5000", "--pong-timeout-ms", "5000"}, 30s);
  EXPECT_EQ(pong.exit_code, 2);
  EXPECT_NE(pong.err.find("must be shorter than ping_interval_ms"), std::string::npos) << pong.err;
  auto help = runCommand(nodeBinary(), {"--help"}, 30s);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--control"), std::string::npos);
}

TEST_F(CliTest, NamespacesLimitsAndKeysCommands) {
  auto created = ctl({"namespaces", "create", "balance", "--rule", "owner", "--owner-claim",
                      "address", "--history-size", "100"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("created namespace 'balance'"), std::string::npos) << created.out;
  auto list = ctl({"namespaces", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("balance"), std::string::npos);
  EXPECT_NE(list.out.find("owner"), std::string::npos);
  EXPECT_NE(list.out.find("address"), std::string::npos);
  auto get = ctl({"--json", "namespaces", "get", "balance"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(nlohmann::json::parse(get.out)["namespace"]["subscribe_rule"], "SUBSCRIBE_RULE_OWNER");
  auto dup = ctl({"namespaces", "create", "balance"});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("ALREADY_EXISTS"), std::string::npos) << dup.err;
  ASSERT_EQ(ctl({"namespaces", "update", "balance", "--history-size", "200"}).exit_code, 0);
  auto kept = nlohmann::json::parse(ctl({"--json", "namespaces", "get", "balance"}).out);
  EXPECT_EQ(kept["namespace"]["subscribe_rule"], "SUBSCRIBE_RULE_OWNER")
      << "update must not reset settings it was not given";
  EXPECT_EQ(kept["namespace"]["owner_claim"], "address");
  EXPECT_EQ(kept["namespace"]["history_size"], 200);
  ASSERT_EQ(ctl({"namespaces", "update", "balance", "--smooth-ms", "500"}).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(
                ctl({"--json", "namespaces", "get", "balance"}).out)["namespace"]["smooth_ms"],
            500);
  auto both = ctl({"namespaces", "update", "balance", "--conflate-ms", "100"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("choose one"), std::string::npos) << both.err;
  ASSERT_EQ(ctl({"namespaces", "update", "balance", "--rule", "authenticated"}).exit_code, 0);
  ASSERT_EQ(ctl({"namespaces", "delete", "balance"}).exit_code, 0);
  EXPECT_EQ(ctl({"namespaces", "get", "balance"}).exit_code, 1);

  auto set = ctl({"limits", "set", "max_subscriptions_per_connection=7",
                  "allowed_origins=https://a.example,https://b.example"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  auto limits = ctl({"--json", "limits", "get"});
  ASSERT_EQ(limits.exit_code, 0);
  auto l = nlohmann::json::parse(limits.out)["limits"];
  EXPECT_EQ(l["max_subscriptions_per_connection"], 7);
  EXPECT_EQ(l["max_connections_per_node"], 10000) << "limits set keeps the other limits";
  EXPECT_EQ(l["allowed_origins"].size(), 2u);
  EXPECT_EQ(ctl({"limits", "set", "no_such_limit=1"}).exit_code, 2);

  auto key = ctl({"--json", "keys", "create", "--role", "reader", "--name", "dashboards"});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  auto k = nlohmann::json::parse(key.out);
  const std::string secret = k["secret"];
  auto as_reader =
      runCommand(heraldctlBinary(),
                 {"--control", cluster_.controlAddress(), "--api-key", secret, "nodes"}, 30s);
  EXPECT_EQ(as_reader.exit_code, 0) << as_reader.err;
  auto reader_publish = runCommand(
      heraldctlBinary(),
      {"--control", cluster_.controlAddress(), "--api-key", secret, "publish", "a", "1"}, 30s);
  EXPECT_EQ(reader_publish.exit_code, 1);
  EXPECT_NE(reader_publish.err.find("PERMISSION_DENIED"), std::string::npos);
  auto keys = ctl({"keys", "list"});
  EXPECT_NE(keys.out.find("dashboards"), std::string::npos) << keys.out;
  EXPECT_EQ(keys.out.find(secret), std::string::npos) << "a listed key must not show its secret";
  ASSERT_EQ(ctl({"keys", "revoke", k["key"]["id"]}).exit_code, 0);
  EXPECT_EQ(runCommand(heraldctlBinary(),
                       {"--control", cluster_.controlAddress(), "--api-key", secret, "nodes"}, 30s)
                .exit_code,
            1);
}

TEST_F(CliTest, HistoryPresenceAndPersonalDeliveryCommands) {
  ASSERT_EQ(ctl({"namespaces", "create", "feed", "--history-size", "10", "--history-ttl", "600",
                 "--slow-consumer", "disconnect"})
                .exit_code,
            0);
  auto list = ctl({"namespaces", "list"});
  EXPECT_NE(list.out.find("disconnect"), std::string::npos) << list.out;
  WsClient ws(cluster_.wsUrl(0, "subscribe=feed:a"));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(cluster_.waitInterest("feed:a", 1));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(ctl({"publish", "feed:a", "{\"n\":" + std::to_string(i) + "}", "--event", "tick"})
                  .exit_code,
              0);
  }
  auto history = ctl({"history", "feed:a", "--since", "1"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("{\"n\":2}"), std::string::npos) << history.out;
  EXPECT_EQ(history.out.find("{\"n\":1}"), std::string::npos) << history.out;
  EXPECT_NE(history.out.find("current offset 3"), std::string::npos) << history.out;
  EXPECT_NE(history.out.find("complete after the given offset"), std::string::npos);
  auto json_history = nlohmann::json::parse(ctl({"--json", "history", "feed:a"}).out);
  EXPECT_EQ(json_history["publications"].size(), 3u);
  EXPECT_EQ(json_history["recovered"], true);
  EXPECT_EQ(ctl({"history"}).exit_code, 2);

  auto presence = ctl({"presence", "feed:a"});
  ASSERT_EQ(presence.exit_code, 0) << presence.err;
  EXPECT_NE(presence.out.find("(anonymous)"), std::string::npos) << presence.out;
  EXPECT_NE(presence.out.find("1 connection(s)"), std::string::npos) << presence.out;
  auto channels = ctl({"channels", "feed:"});
  EXPECT_NE(channels.out.find("SUBSCRIBERS"), std::string::npos) << channels.out;

  auto sent = ctl({"send-to-user", "alice", R"({"hi":1})", "--event", "notice"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_NE(sent.out.find("offset 1"), std::string::npos) << sent.out;
  auto user_history = nlohmann::json::parse(ctl({"--json", "history", "--user", "alice"}).out);
  ASSERT_EQ(user_history["publications"].size(), 1u);
  EXPECT_EQ(user_history["publications"][0]["event"], "notice");

  ASSERT_EQ(ctl({"limits", "set", "slow_consumer_policy=disconnect"}).exit_code, 0);
  auto limits = nlohmann::json::parse(ctl({"--json", "limits", "get"}).out)["limits"];
  EXPECT_EQ(limits["slow_consumer_policy"], "SLOW_CONSUMER_POLICY_DISCONNECT");
  EXPECT_NE(ctl({"limits", "get"}).out.find("disconnect"), std::string::npos);
  EXPECT_EQ(ctl({"limits", "set", "slow_consumer_policy=sometimes"}).exit_code, 2);
}

// A token's `sub` is the user's to choose: heraldctl must not print it raw to a terminal.
TEST_F(CliTest, TablesEscapeWhatClientsChose) {
  ASSERT_EQ(
      ctl({"namespaces", "create", "room", "--client-publish", "--history-size", "10"}).exit_code,
      0);
  const std::string sub = "eve\x1b[2J\nforged row";
  const std::string token = signToken("HS256", kTestJwtSecret, {{"sub", sub}});
  WsClient ws(cluster_.wsUrl(0, "token=" + token + "&subscribe=room:1"));
  ASSERT_TRUE(ws.waitOpen(10s)) << ws.failReason();
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  ws.send(R"({"type":"publish","channel":"room:1","data":{"t":"hi"},"id":1})");
  ASSERT_EQ(ws.nextAnswer(10s)["type"], "reply");
  for (const auto& args : {std::vector<std::string>{"history", "room:1"},
                           std::vector<std::string>{"presence", "room:1"}}) {
    auto out = ctl(args);
    ASSERT_EQ(out.exit_code, 0) << out.err;
    EXPECT_EQ(out.out.find('\x1b'), std::string::npos) << args[0] << ": raw escape printed";
    EXPECT_NE(out.out.find("eve\\x1b[2J\\nforged row"), std::string::npos) << out.out;
  }
  // --json keeps the exact value, as JSON escapes.
  auto json = nlohmann::json::parse(ctl({"--json", "history", "room:1"}).out);
  EXPECT_EQ(json["publications"][0]["publisher_user"], sub) << json;
}

TEST_F(CliTest, PublishingWhileTheControlPlaneIsDownFailsFastWithUnavailable) {
  cluster_.stopControl(SIGTERM);
  auto r = ctl({"--timeout", "20", "publish", "a", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos)
      << "not a silent drop, not a timeout: " << r.err;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  herald::v1::PublishRequest req;
  req.set_channel("a");
  req.set_data("1");
  herald::v1::PublishResponse resp;
  EXPECT_EQ(cluster_.api().Publish(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CliTest, StateSurvivesAControlPlaneRestart) {
  ASSERT_EQ(ctl({"namespaces", "create", "vault", "--rule", "granted"}).exit_code, 0);
  ASSERT_EQ(ctl({"limits", "set", "max_subscriptions_per_connection=9"}).exit_code, 0);
  auto key = ctl({"--json", "keys", "create", "--role", "publisher"});
  ASSERT_EQ(key.exit_code, 0);
  const std::string secret = nlohmann::json::parse(key.out)["secret"];
  // JWT settings changed at runtime (not the config file's): keys for rotation, issuer etc.
  const std::string rotated_secret = "rotated-client-token-secret-0123456789";
  const auto ec = makeEcKeyPair();
  herald::v1::AuthSettings auth;
  auth.set_allow_anonymous(true);
  auth.set_issuer("https://issuer.example");
  auth.set_audience("herald-cli-test");
  auth.set_leeway_seconds(17);
  for (auto [kid, alg, material] :
       {std::tuple{"test", "HS256", kTestJwtSecret}, std::tuple{"rotated", "HS256", rotated_secret},
        std::tuple{"ec-2026", "ES256", ec.public_pem}}) {
    auto* k = auth.add_keys();
    k->set_kid(kid);
    k->set_algorithm(alg);
    if (std::string(alg) == "HS256") {
      k->set_secret(material);
    } else {
      k->set_public_key_pem(material);
    }
  }
  {
    grpc::ClientContext ctx;
    herald::v1::SetAuthSettingsRequest req;
    *req.mutable_auth() = auth;
    herald::v1::SetAuthSettingsResponse resp;
    ASSERT_TRUE(cluster_.api().SetAuthSettings(&ctx, req, &resp).ok());
  }
  auto before = nlohmann::json::parse(ctl({"--json", "info"}).out);

  cluster_.stopControl(SIGTERM);
  cluster_.startControl();

  auto ns = ctl({"--json", "namespaces", "get", "vault"});
  ASSERT_EQ(ns.exit_code, 0) << ns.err;
  EXPECT_EQ(nlohmann::json::parse(ns.out)["namespace"]["subscribe_rule"], "SUBSCRIBE_RULE_GRANTED");
  auto limits = nlohmann::json::parse(ctl({"--json", "limits", "get"}).out);
  EXPECT_EQ(limits["limits"]["max_subscriptions_per_connection"], 9);
  auto after = nlohmann::json::parse(ctl({"--json", "info"}).out);
  EXPECT_EQ(after["config_version"], before["config_version"]);
  auto publish = runCommand(
      heraldctlBinary(),
      {"--control", cluster_.controlAddress(), "--api-key", secret, "publish", "a", "1"}, 30s);
  EXPECT_EQ(publish.exit_code, 0) << "an API key survives the restart: " << publish.err;
  {
    grpc::ClientContext ctx;
    herald::v1::GetAuthSettingsResponse got;
    ASSERT_TRUE(
        cluster_.api().GetAuthSettings(&ctx, herald::v1::GetAuthSettingsRequest(), &got).ok());
    EXPECT_EQ(got.auth().issuer(), "https://issuer.example");
    EXPECT_EQ(got.auth().audience(), "herald-cli-test");
    EXPECT_EQ(got.auth().leeway_seconds(), 17u);
    EXPECT_TRUE(got.auth().allow_anonymous());
    ASSERT_EQ(got.auth().keys_size(), 3) << got.DebugString();
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(got.auth().keys(i).kid(), auth.keys(i).kid());
      EXPECT_EQ(got.auth().keys(i).algorithm(), auth.keys(i).algorithm());
    }
    EXPECT_EQ(got.auth().keys(1).secret(), "<redacted>");
    EXPECT_EQ(got.auth().keys(2).public_key_pem(), ec.public_pem);
  }
  // And the node picked the state up again when it reconnected.
  ASSERT_TRUE(cluster_.waitHealthyNodes(1));
  ASSERT_TRUE(cluster_.waitAckedVersion(std::stoull(after["config_version"].get<std::string>())));
  // Secrets are only shown redacted: a token signed with the rotated secret (and the issuer
  // and audience set before the restart) is how a client sees that it survived.
  const std::string client_token = signToken("HS256", rotated_secret,
                                             {{"sub", "dana"},
                                              {"iss", "https://issuer.example"},
                                              {"aud", "herald-cli-test"},
                                              {"exp", nowSeconds() + 60}},
                                             "rotated");
  WsClient ws(cluster_.wsUrl(0, "token=" + client_token));
  ASSERT_TRUE(ws.waitOpen(10s)) << ws.failReason();
  auto connected = ws.next(10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["type"], "connected") << *connected;
  EXPECT_EQ((*connected)["user"], "dana");
}

TEST_F(CliTest, NodeWithAWrongSecretIsRefusedAndSaysSo) {
  Process intruder(nodeBinary(),
                   {"--listen", "127.0.0.1:0", "--control", cluster_.controlAddress(),
                    "--node-secret", "not-the-node-secret", "--reconnect-max-ms", "200"});
  ASSERT_TRUE(intruder.waitListening(30s).has_value());
  EXPECT_TRUE(intruder.waitForOutput("control plane refused this node", 20s)) << intruder.output();
  auto nodes = nlohmann::json::parse(ctl({"--json", "nodes"}).out);
  EXPECT_EQ(nodes["nodes"].size(), 1u) << "only the cluster's own node is registered";
  // Without a config it must not look healthy to a load balancer either.
  auto health = httpGet(*intruder.waitListening(1s), "/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(nlohmann::json::parse(health.body)["status"], "starting");
}

TEST_F(CliTest, SecondDaemonOnABusyAddressFailsToStart) {
  TempDir other;
  auto control = runCommand(controlBinary(),
                            {"--grpc-listen", cluster_.controlAddress(), "--http-listen",
                             "127.0.0.1:0", "--data-dir", other.path()},
                            30s);
  EXPECT_EQ(control.exit_code, 1);
  EXPECT_NE(control.err.find("cannot listen on"), std::string::npos) << control.err;
  auto node = runCommand(
      nodeBinary(), {"--listen", cluster_.nodeAddress(0), "--control", cluster_.controlAddress()},
      30s);
  EXPECT_EQ(node.exit_code, 1);
  EXPECT_NE(node.err.find("Address already in use"), std::string::npos) << node.err;
}

TEST(DaemonCommandLineTest, CorruptStateFileStopsControlPlane) {
  TempDir dir;
  { std::ofstream(dir.path() + "/state.json") << "{ half-written"; }
  auto r = runCommand(
      controlBinary(),
      {"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir.path()},
      30s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("corrupt state file"), std::string::npos) << r.err;
}

TEST(DaemonCommandLineTest, FirstStartCreatesAnAdminKeyOnce) {
  TempDir dir;
  std::string key;
  {
    Process control(controlBinary(), {"--grpc-listen", "127.0.0.1:0", "--http-listen",
                                      "127.0.0.1:0", "--data-dir", dir.path()});
    ASSERT_TRUE(control.waitListening(30s).has_value()) << control.output();
    const std::string out = control.output();
    const size_t at = out.find("hk_");
    ASSERT_NE(at, std::string::npos) << out;
    key = out.substr(at, 51);
    std::ifstream saved(dir.path() + "/admin.key");
    std::string from_file;
    std::getline(saved, from_file);
    EXPECT_EQ(from_file, key);
    auto ok = runCommand(heraldctlBinary(),
                         {"--control", *control.waitListening(1s), "--api-key", key, "info"}, 30s);
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    control.stop(SIGTERM, 15s);
  }
  Process again(controlBinary(), {"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                                  "--data-dir", dir.path()});
  ASSERT_TRUE(again.waitListening(30s).has_value());
  EXPECT_EQ(again.output().find("hk_"), std::string::npos) << "the key is printed once only";
  auto still = runCommand(heraldctlBinary(),
                          {"--control", *again.waitListening(1s), "--api-key", key, "info"}, 30s);
  EXPECT_EQ(still.exit_code, 0) << still.err;
}

TEST(DaemonCommandLineTest, AdminKeyFromTheEnvironment) {
  TempDir dir;
  const std::string key = "env-admin-key-0123456789abcdef-0123456789";
  Process control(
      controlBinary(),
      {"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir.path()},
      {"HERALD_ADMIN_KEY=" + key});
  const auto address = control.waitListening(30s);
  ASSERT_TRUE(address.has_value()) << control.output();
  EXPECT_EQ(control.output().find("created the first admin API key"), std::string::npos)
      << "no key is generated when one is given: " << control.output();
  EXPECT_FALSE(std::ifstream(dir.path() + "/admin.key").good()) << "nothing to write down";
  // An admin-only call (keys list) with the key from the environment.
  auto ok =
      runCommand(heraldctlBinary(), {"--control", *address, "--api-key", key, "keys", "list"}, 30s);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto wrong = runCommand(heraldctlBinary(),
                          {"--control", *address, "--api-key",
                           "not-the-admin-key-0123456789abcdef-01234", "keys", "list"},
                          30s);
  EXPECT_NE(wrong.exit_code, 0) << "the control plane is not open to any key: " << wrong.out;
  control.stop(SIGTERM, 15s);

  TempDir other;
  auto weak = runCommand(
      controlBinary(),
      {"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", other.path()},
      30s, {"HERALD_ADMIN_KEY=too-short"});
  EXPECT_EQ(weak.exit_code, 2);
  EXPECT_NE(weak.err.find("admin key: at least 32 bytes"), std::string::npos) << weak.err;
}

TEST(DaemonCommandLineTest, JsonLogsAreOneObjectPerLineWithComponent) {
  TempDir dir;
  Process control(controlBinary(), {"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                                    "--data-dir", dir.path(), "--log-format", "json"});
  ASSERT_TRUE(control.waitListening(30s).has_value()) << control.output();
  Process node(nodeBinary(),
               {"--listen", "127.0.0.1:0", "--control", *control.waitListening(1s),
                "--node-secret-file", dir.path() + "/node.secret", "--log-format", "json"});
  ASSERT_TRUE(node.waitListening(30s).has_value()) << node.output();
  ASSERT_TRUE(node.waitForOutput("config version", 30s)) << node.output();
  node.stop(SIGTERM, 15s);
  control.stop(SIGTERM, 15s);
  for (const std::string& out : {control.output(), node.output()}) {
    std::istringstream lines(out);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
      EXPECT_TRUE(j["component"].is_string()) << line;
      EXPECT_TRUE(j["level"].is_string()) << line;
      EXPECT_TRUE(j["ts"].is_string()) << line;
      EXPECT_TRUE(j["msg"].is_string()) << line;
      ++count;
    }
    EXPECT_GE(count, 2);
  }
}

TEST_F(CliTest, TopOnceShowsNodesRatesAndTheBusiestChannels) {
  WsClient ws(cluster_.wsUrl(0, "subscribe=top:feed"));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  ASSERT_TRUE(cluster_.waitInterest("top:feed", 1));
  cluster_.publish("top:feed", "1");
  auto r = ctl({"top", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("herald top: " + cluster_.controlAddress()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nodes 1/1 healthy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(cluster_.nodeAddress(0)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deliveries/s "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top:feed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "--once is plain text for scripts";
}

TEST_F(CliTest, TopQuitsOnQAndOnCtrlC) {
  const std::vector<std::string> env = {"HERALD_CONTROL=" + cluster_.controlAddress(),
                                        "HERALD_API_KEY=" + kTestAdminKey};
  // q on stdin: top draws its frame, reads the key and exits 0.
  auto q = runCommand("/bin/sh", {"-c", std::string("printf q | '") + heraldctlBinary() + "' top"},
                      30s, env);
  EXPECT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("herald top:"), std::string::npos) << q.out;
  // Ctrl-C while it refreshes: the terminal is restored and top exits 0.
  Process top(heraldctlBinary(), {"top", "--interval", "0.2"}, env);
  ASSERT_TRUE(top.waitForOutput("herald top:", 30s)) << top.output();
  const size_t first = top.output().find("herald top:");
  ASSERT_TRUE(top.waitForOutput("herald top:", 30s, first + 1)) << "a second frame";
  auto status = top.stop(SIGINT, 10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << top.output();
}

}  // namespace
}  // namespace herald::testing
