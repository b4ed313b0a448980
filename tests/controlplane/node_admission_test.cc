#include "controlplane/node_admission.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

TEST(NodeAdmissionTest, LoopbackPeersAreRecognised) {
  for (const char* peer :
       {"ipv4:127.0.0.1:5000", "ipv4:127.1.2.3:1", "ipv6:[::1]:5000", "ipv6:%5B::1%5D:5000",
        "ipv6:[::ffff:127.0.0.1]:5000", "unix:/tmp/sock", "unix-abstract:herald"}) {
    EXPECT_TRUE(isLoopbackPeer(peer)) << peer;
  }
  for (const char* peer :
       {"ipv4:10.0.0.5:5000", "ipv4:1.127.0.0:5000", "ipv6:[::2]:5000", "ipv6:%5B::10%5D:5000",
        "ipv6:[2001:db8::1]:5000", "ipv6:[::ffff:10.0.0.1]:5000", ""}) {
    EXPECT_FALSE(isLoopbackPeer(peer)) << peer;
  }
}

TEST(NodeAdmissionTest, WithASecretEveryNodeMustPresentIt) {
  NodeAdmission admission("s3cret-s3cret-s3cret", false, false);
  EXPECT_TRUE(admission.admit("s3cret-s3cret-s3cret", "ipv4:10.0.0.5:1").isOk());
  EXPECT_EQ(admission.admit("", "ipv4:127.0.0.1:1").code(), ErrorCode::kUnauthorized)
      << "loopback is no excuse once a secret is set";
  EXPECT_EQ(admission.admit("s3cret-s3cret-s3creX", "ipv4:10.0.0.5:1").code(),
            ErrorCode::kUnauthorized);
  EXPECT_EQ(admission.admit("s3cret", "ipv4:10.0.0.5:1").code(), ErrorCode::kUnauthorized);
}

TEST(NodeAdmissionTest, WithoutCredentialsOnlyThisHostJoins) {
  NodeAdmission admission("", false, false);
  EXPECT_TRUE(admission.loopbackOnly());
  EXPECT_TRUE(admission.admit("", "ipv4:127.0.0.1:1").isOk());
  Status remote = admission.admit("", "ipv4:10.0.0.5:1");
  EXPECT_EQ(remote.code(), ErrorCode::kUnauthorized);
  EXPECT_NE(remote.message().find("--node-secret"), std::string::npos) << remote.message();
}

TEST(NodeAdmissionTest, ClientCertificatesOrAnExplicitOptOutAdmitRemoteNodes) {
  EXPECT_TRUE(NodeAdmission("", true, false).admit("", "ipv4:10.0.0.5:1").isOk());
  NodeAdmission open("", false, true);
  EXPECT_TRUE(open.openToRemoteNodes());
  EXPECT_TRUE(open.admit("", "ipv4:10.0.0.5:1").isOk());
}

}  // namespace
}  // namespace herald::control
