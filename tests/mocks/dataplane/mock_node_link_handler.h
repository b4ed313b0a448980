#pragma once

#include <gmock/gmock.h>

#include "dataplane/link/node_link_handler.h"

namespace herald::node {

class MockNodeLinkHandler : public NodeLinkHandler {
 public:
  MOCK_METHOD(void, onSessionStarted, (), (override));
  MOCK_METHOD(void, onHelloSent, (const herald::v1::Hello& hello), (override));
  MOCK_METHOD(Status, onConfig, (const herald::v1::ConfigSnapshot& snapshot), (override));
  MOCK_METHOD(void, onDeliver, (const herald::v1::Deliver& deliver), (override));
  MOCK_METHOD(void, onDisconnect, (const herald::v1::DisconnectCommand& command), (override));
  MOCK_METHOD(void, onServerCommand, (const herald::v1::ControlMessage& command), (override));
  MOCK_METHOD(void, onJoinLeave, (const herald::v1::JoinLeave& change), (override));
  MOCK_METHOD(void, onUserLimit, (const herald::v1::UserLimit& limit), (override));
  MOCK_METHOD(void, onRecovered, (const herald::v1::RecoverResponse& page), (override));
  MOCK_METHOD(void, onPublished, (const herald::v1::ClientPublishResult& result), (override));
  MOCK_METHOD(void, onPresenceQuery, (const herald::v1::PresenceQuery& query), (override));
  MOCK_METHOD(herald::v1::NodeStats, currentStats, (), (override));
};

}  // namespace herald::node
