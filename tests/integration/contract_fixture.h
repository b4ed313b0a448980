#pragma once
// The gRPC contract tests' fixture: one control plane and one node per test binary, shared by
// the suite, and calls with a deadline as callers are expected to set one.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "integration/support/cluster.h"

namespace herald::testing {

using grpc::StatusCode;

class ContractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    cluster_->startControl();
    cluster_->startNode();
    ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // Every call gets a deadline, as callers are expected to set one.
  template <typename Req, typename Resp, typename Method>
  grpc::Status call(Method method, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return (cluster_->api().*method)(&ctx, req, resp);
  }

  static inline Cluster* cluster_ = nullptr;
};

using Stub = herald::v1::Control::Stub;

inline herald::v1::Namespace ns(const std::string& name, herald::v1::SubscribeRule rule) {
  herald::v1::Namespace n;
  n.set_name(name);
  n.set_subscribe_rule(rule);
  return n;
}

}  // namespace herald::testing
