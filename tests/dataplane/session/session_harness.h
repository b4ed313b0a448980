#pragma once

// A shard without a loop or sockets, and clients on mock transports, for the session and
// fan-out unit tests: what each client's transport received is kept, in order, as text.

#include <gmock/gmock.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/shard_state.h"
#include "mocks/dataplane/mock_client_transport.h"
#include "mocks/dataplane/mock_control_uplink.h"

namespace herald::node::testing {

inline constexpr char kJwtSecret[] = "0123456789abcdef0123456789abcdef";

// version 1, an HS256 key, namespaces: user (owner rule), chat (client publish),
// ticker (slow consumers disconnected); `edit` adjusts the snapshot before it is built.
template <typename Edit>
NodeSettingsPtr makeSettings(Edit edit) {
  herald::v1::ConfigSnapshot s;
  s.set_version(1);
  *s.mutable_limits() = defaultNodeSettings()->limits;
  auto* key = s.mutable_auth()->add_keys();
  key->set_algorithm("HS256");
  key->set_secret(kJwtSecret);
  auto* user = s.add_namespaces();
  user->set_name("user");
  user->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_OWNER);
  auto* chat = s.add_namespaces();
  chat->set_name("chat");
  chat->set_allow_client_publish(true);
  auto* ticker = s.add_namespaces();
  ticker->set_name("ticker");
  ticker->set_slow_consumer_policy(herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT);
  edit(&s);
  auto built = buildNodeSettings(s);
  EXPECT_TRUE(built.isOk()) << built.status().message();
  return built.value();
}
inline NodeSettingsPtr makeSettings() {
  return makeSettings([](herald::v1::ConfigSnapshot*) {});
}

// One client: a session on a mock transport that records what it is sent.
struct FakeClient {
  ::testing::NiceMock<MockClientTransport> transport;
  ClientSession session;
  std::string target;
  std::vector<std::string> received;  // text frames and publication payloads, in order
  size_t buffered = 0;                // what bufferedBytes() reports
  bool open = true;
  std::vector<std::pair<uint16_t, std::string>> closes;

  explicit FakeClient(std::string request_target) : target(std::move(request_target)) {
    using ::testing::_;
    ON_CALL(transport, isOpen()).WillByDefault([this] { return open; });
    ON_CALL(transport, bufferedBytes()).WillByDefault([this] { return buffered; });
    ON_CALL(transport, requestTarget()).WillByDefault(::testing::ReturnRef(target));
    ON_CALL(transport, writeText(_)).WillByDefault([this](const std::string& text) {
      received.push_back(text);
      return text.size();
    });
    ON_CALL(transport, writeFrame(_)).WillByDefault([this](const FramePtr& frame) {
      received.push_back(frame->message->get_payload());
      return frameBytes(*frame);
    });
    ON_CALL(transport, closeWith(_, _))
        .WillByDefault([this](uint16_t code, const std::string& reason) {
          closes.emplace_back(code, reason);
          open = false;
        });
  }

  // The i-th frame received, parsed.
  nlohmann::json frame(size_t i) const { return nlohmann::json::parse(received.at(i)); }
  nlohmann::json last() const { return nlohmann::json::parse(received.back()); }
  void send(const nlohmann::json& frame) { session.onFrame(frame.dump(), true); }
};

// A shard's state with real indexes and limits, and a mock uplink to herald-control.
struct ShardHarness {
  std::string node_id = "node-test";
  InterestTracker interest;
  std::atomic<uint64_t> node_connections{0};
  IpLimiter ip_limiter;
  BlockedUsers blocked_users;
  ChannelSubscribers subscribers;
  ::testing::NiceMock<MockControlUplink> uplink;
  int flush_requests = 0;
  std::unique_ptr<ShardState> state;
  std::vector<std::unique_ptr<FakeClient>> clients;

  explicit ShardHarness(NodeSettingsPtr settings = makeSettings()) {
    NodeServices services;
    services.node_id = &node_id;
    services.interest = &interest;
    services.node_connections = &node_connections;
    services.ip_limiter = &ip_limiter;
    services.blocked_users = &blocked_users;
    services.subscribers = &subscribers;
    services.uplink = &uplink;
    state = std::make_unique<ShardState>(3, services, std::move(settings),
                                         [this] { ++flush_requests; });
  }

  // Opens a client as the shard does when its transport reports it.
  FakeClient& connect(const std::string& target = "/ws") {
    clients.push_back(std::make_unique<FakeClient>(target));
    FakeClient& client = *clients.back();
    client.session.shard_slot = static_cast<uint32_t>(state->sessions.size());
    state->sessions.push_back(&client.session);
    client.session.open(client.transport, *state, "192.0.2.7");
    return client;
  }
};

// A history page of "news" in epoch "e1": `offsets` (data {}), the stream at `top`, complete.
inline herald::v1::RecoverResponse page(uint64_t request_id, const std::vector<uint64_t>& offsets,
                                        uint64_t top) {
  herald::v1::RecoverResponse p;
  p.set_request_id(request_id);
  for (auto o : offsets) {
    auto* pub = p.add_publications();
    pub->set_channel("news");
    pub->set_offset(o);
    pub->set_epoch("e1");
    pub->set_data("{}");
  }
  p.set_offset(top);
  p.set_epoch("e1");
  p.set_recovered(true);
  p.set_complete(true);
  return p;
}

}  // namespace herald::node::testing
