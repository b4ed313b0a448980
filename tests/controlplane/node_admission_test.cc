#include "controlplane/node_admission.h"

#include <gtest/gtest.h>

#include "controlplane/call_gate.h"
#include "mocks/controlplane/mocks.h"

namespace herald::control {
namespace {

using ::testing::_;
using ::testing::Return;

TEST(NodeAdmissionTest, WithASecretEveryNodeMustPresentIt) {
  NodeAdmission admission("s3cret-s3cret-s3cret");
  EXPECT_TRUE(admission.needsSecret());
  EXPECT_TRUE(admission.admit("s3cret-s3cret-s3cret").isOk());
  for (const char* wrong :
       {"", "s3cret-s3cret-s3cre", "s3cret-s3cret-s3creT", "s3cret-s3cret-s3cret!"}) {
    const Status refused = admission.admit(wrong);
    EXPECT_EQ(refused.code(), ErrorCode::kUnauthorized) << wrong;
    EXPECT_NE(refused.message().find("--node-secret"), std::string::npos) << refused.message();
  }
}

TEST(NodeAdmissionTest, AnEmptySecretAdmitsEveryNode) {
  // Only when the operator chose it: client certificates, or --allow-unauthenticated-nodes.
  NodeAdmission open("");
  EXPECT_FALSE(open.needsSecret());
  EXPECT_TRUE(open.admit("").isOk());
}

TEST(NodeAdmissionTest, SecretsCompareByContentAndLength) {
  EXPECT_TRUE(secretsEqual("abc", "abc"));
  EXPECT_FALSE(secretsEqual("abc", "abd"));
  EXPECT_FALSE(secretsEqual("ab", "abc"));
  EXPECT_FALSE(secretsEqual("abcd", "abc"));
  EXPECT_FALSE(secretsEqual("", "abc"));
}

TEST(CallGateTest, ControlCallsNeedAKnownApiKeyBeforeTheirBodyIsRead) {
  MockApiKeyStore keys;
  EXPECT_CALL(keys, roleOf("hk_good"))
      .WillRepeatedly(Return(std::optional(herald::v1::API_KEY_ROLE_READER)));
  EXPECT_CALL(keys, roleOf("hk_bad")).WillRepeatedly(Return(std::nullopt));
  CallGate gate(keys, NodeAdmission("node-secret-0123456789"));
  EXPECT_TRUE(gate.admit("/herald.v1.Control/Publish", "Bearer hk_good", "").isOk());
  // Roles are the handlers' business: a reader key passes the gate for any Control RPC.
  EXPECT_TRUE(gate.admit("/herald.v1.Control/DeleteNamespace", "Bearer hk_good", "").isOk());
  for (const char* authorization : {"", "Bearer hk_bad", "hk_good", "bearer hk_good", "Bearer "}) {
    const Status refused = gate.admit("/herald.v1.Control/Publish", authorization, "");
    EXPECT_EQ(refused.code(), ErrorCode::kUnauthorized) << authorization;
    EXPECT_NE(refused.message().find("authorization: Bearer"), std::string::npos);
  }
  // A node secret is no API key, and an unknown method needs a key like any other.
  EXPECT_FALSE(gate.admit("/herald.v1.Control/Publish", "", "node-secret-0123456789").isOk());
  EXPECT_FALSE(gate.admit("/grpc.health.v1.Health/Check", "", "").isOk());
  EXPECT_FALSE(gate.admit("", "", "").isOk());
}

TEST(CallGateTest, NodeLinkCallsNeedTheNodeSecretNotAnApiKey) {
  MockApiKeyStore keys;
  EXPECT_CALL(keys, roleOf(_)).Times(0);
  CallGate gate(keys, NodeAdmission("node-secret-0123456789"));
  EXPECT_TRUE(gate.admit("/herald.v1.NodeLink/Session", "", "node-secret-0123456789").isOk());
  EXPECT_FALSE(gate.admit("/herald.v1.NodeLink/Session", "", "").isOk());
  EXPECT_FALSE(gate.admit("/herald.v1.NodeLink/Session", "", "node-secret-012345678").isOk());
  EXPECT_FALSE(gate.admit("/herald.v1.NodeLink/Session", "Bearer hk_admin", "").isOk());

  CallGate open(keys, NodeAdmission(""));
  EXPECT_TRUE(open.admit("/herald.v1.NodeLink/Session", "", "").isOk());
}

}  // namespace
}  // namespace herald::control
