#pragma once

#include <string>

#include <gmock/gmock.h>

#include "controlplane/api_key_store.h"
#include "controlplane/config_persistence.h"
#include "controlplane/config_store.h"
#include "controlplane/delivery_router.h"
#include "controlplane/interest_listener.h"
#include "controlplane/node_sink.h"
#include "controlplane/peer_channel.h"
#include "controlplane/stream_engine.h"

namespace herald::control {

class MockNodeSink : public NodeSink {
 public:
  explicit MockNodeSink(std::string id) : id_(std::move(id)) {}
  const std::string& nodeId() const override { return id_; }
  MOCK_METHOD(bool, send, (ControlMessagePtr message), (override));

 private:
  std::string id_;
};

class MockConfigStore : public ConfigStore {
 public:
  MOCK_METHOD(Result<herald::v1::Namespace>, createNamespace, (const herald::v1::Namespace&),
              (override));
  MOCK_METHOD(Result<herald::v1::Namespace>, updateNamespace, (const herald::v1::Namespace&),
              (override));
  MOCK_METHOD(Status, deleteNamespace, (const std::string&), (override));
  MOCK_METHOD(Result<herald::v1::Namespace>, getNamespace, (const std::string&), (const, override));
  MOCK_METHOD(std::vector<herald::v1::Namespace>, listNamespaces, (), (const, override));
  MOCK_METHOD(herald::v1::Limits, limits, (), (const, override));
  MOCK_METHOD(Result<herald::v1::Limits>, setLimits, (const herald::v1::Limits&), (override));
  MOCK_METHOD(herald::v1::AuthSettings, auth, (), (const, override));
  MOCK_METHOD(Result<herald::v1::AuthSettings>, setAuth, (const herald::v1::AuthSettings&),
              (override));
  MOCK_METHOD(Result<uint64_t>, blockUser, (const std::string&, int64_t), (override));
  MOCK_METHOD(Result<uint64_t>, revokeToken, (const std::string&, int64_t), (override));
  MOCK_METHOD(uint64_t, version, (), (const, override));
  MOCK_METHOD(ConfigSnapshotPtr, snapshot, (), (const, override));
  MOCK_METHOD(void, setChangeListener, (ChangeListener), (override));
};

class MockApiKeyStore : public ApiKeyStore {
 public:
  MOCK_METHOD(Result<Created>, create, (const std::string&, herald::v1::ApiKeyRole), (override));
  MOCK_METHOD(Result<herald::v1::ApiKey>, import,
              (const std::string&, herald::v1::ApiKeyRole, const std::string&), (override));
  MOCK_METHOD(Status, revoke, (const std::string&), (override));
  MOCK_METHOD(std::vector<herald::v1::ApiKey>, list, (), (const, override));
  MOCK_METHOD(std::optional<herald::v1::ApiKeyRole>, roleOf, (const std::string&),
              (const, override));
  MOCK_METHOD(size_t, size, (), (const, override));
};

class MockStreamEngine : public StreamEngine {
 public:
  MOCK_METHOD(PublishOutcome, publish, (const PublishItem&), (override));
  MOCK_METHOD(std::vector<PublishOutcome>, publishBatch, (const std::vector<PublishItem>&),
              (override));
  MOCK_METHOD(PublishOutcome, sendToUser, (const UserPublishItem&), (override));
  MOCK_METHOD(Status, relayJoinLeave, (const std::vector<herald::v1::JoinLeave>&), (override));
  MOCK_METHOD(HistoryResult, history, (const std::string&, const HistoryQuery&, int64_t),
              (const, override));
  MOCK_METHOD(HistoryResult, userHistory, (const std::string&, const HistoryQuery&, int64_t),
              (const, override));
  MOCK_METHOD(void, awaitRouted, (const std::string&, bool, std::chrono::milliseconds),
              (const, override));
  MOCK_METHOD(size_t, expire, (int64_t), (override));
  MOCK_METHOD((Result<std::map<std::string, ChannelState>>), list, (), (const, override));
  MOCK_METHOD(uint64_t, publications, (), (const, override));
};

class MockConfigPersistence : public ConfigPersistence {
 public:
  MOCK_METHOD(Result<std::string>, load, (), (override));
  MOCK_METHOD(Status, store, (uint64_t, uint64_t, const std::string&), (override));
  MOCK_METHOD(Result<uint64_t>, storedVersion, (), (override));
  MOCK_METHOD(std::string, describe, (), (const, override));
};

class MockDeliveryRouter : public DeliveryRouter {
 public:
  MOCK_METHOD(uint32_t, forChannel, (const std::string&, const Visit&), (const, override));
  MOCK_METHOD(uint32_t, forUser, (const std::string&, const Visit&), (const, override));
  MOCK_METHOD(uint32_t, forAll, (const Visit&), (const, override));
  MOCK_METHOD(uint32_t, nodesForChannel, (const std::string&), (const, override));
  MOCK_METHOD((std::map<std::string, uint32_t>), channelsWithInterest, (), (const, override));
};

class MockInterestListener : public InterestListener {
 public:
  MOCK_METHOD(void, interestChanged, (const std::string&, bool), (override));
};

class MockPeerChannel : public PeerChannel {
 public:
  MOCK_METHOD(void, listen, (const std::string&, Handler), (override));
  MOCK_METHOD(Result<uint64_t>, send, (const std::string&, const std::string&), (override));
};

}  // namespace herald::control
