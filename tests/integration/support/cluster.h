#pragma once

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "herald/v1/control.grpc.pb.h"
#include "integration/support/process.h"

namespace herald::testing {

using namespace std::chrono_literals;

// Paths of the binaries under test, set by CMake.
const char* controlBinary();
const char* nodeBinary();
const char* heraldctlBinary();
const char* benchBinary();

// Polls `condition` until it holds or `timeout` passes (for state only visible by asking).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Every offset from `first` to `last` exactly once, in order; says where it broke if not.
::testing::AssertionResult contiguous(const std::vector<uint64_t>& offsets, uint64_t first,
                                      uint64_t last);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel just released it): for a
// server that needs a real port (redis-server), or an address where nothing listens.
int freeLoopbackPort();

/**
 * A real Herald on loopback: one herald-control (port 0, its own data dir) and any number of
 * herald-node processes (port 0), with fast heartbeats so failure tests stay short.
 */
// The HS256 secret (kid "test") every test cluster accepts client tokens for.
inline const std::string kTestJwtSecret = "herald-test-secret-0123456789abcdef";

// The admin API key and node secret of every test cluster.
inline const std::string kTestAdminKey = "herald-test-admin-key-0123456789abcdef";
inline const std::string kTestNodeSecret = "herald-test-node-secret";

// A Control API stub whose calls carry `authorization: Bearer <api_key>` (none when empty).
std::unique_ptr<herald::v1::Control::Stub> controlStub(const std::string& address,
                                                       const std::string& api_key);

// Control-plane config of a test cluster: anonymous clients allowed, one HS256 key.
nlohmann::json defaultControlConfig();

class Cluster {
 public:
  explicit Cluster(nlohmann::json control_config = defaultControlConfig());
  ~Cluster();

  // Starts (or restarts, on the same port and data dir) the control plane.
  void startControl(const std::vector<std::string>& extra_args = {},
                    const std::vector<std::string>& extra_env = {});
  void stopControl(int sig = SIGTERM);
  // Starts a node (`extra_env`: "NAME=value" for its environment); returns its index.
  size_t startNode(const std::vector<std::string>& extra_args = {},
                   const std::vector<std::string>& extra_env = {});

  const std::string& controlAddress() const { return control_address_; }
  // herald-control's HTTP port (/metrics, /health, /api/...), "127.0.0.1:PORT".
  const std::string& controlHttpAddress() const { return http_address_; }
  const std::string& nodeAddress(size_t i) const { return node_addresses_[i]; }
  std::string wsUrl(size_t node, const std::string& query = "") const;
  Process& control() { return *control_; }
  Process& node(size_t i) { return *nodes_[i]; }
  herald::v1::Control::Stub& api() { return *stub_; }
  const std::string& dataDir() const { return data_dir_.path(); }

  // Changes limits through SetLimits and waits until every live node acked the new config.
  ::testing::AssertionResult setLimits(const std::function<void(herald::v1::Limits*)>& change);
  // Waits until the control plane lists `count` healthy nodes.
  bool waitHealthyNodes(size_t count, std::chrono::milliseconds timeout = 15s);
  // Waits until `nodes` nodes have told the control plane they hold subscribers of `channel`.
  bool waitInterest(const std::string& channel, uint32_t nodes,
                    std::chrono::milliseconds timeout = 15s);
  // Waits until every live node acked config `version`.
  bool waitAckedVersion(uint64_t version, std::chrono::milliseconds timeout = 15s);

  herald::v1::PublishResponse publish(const std::string& channel, const std::string& data,
                                      const std::string& event = "");
  // Creates `ns` through the Control API and waits until every live node acked it.
  ::testing::AssertionResult createNamespace(const herald::v1::Namespace& ns);

 private:
  TempDir data_dir_;
  std::string control_address_ = "127.0.0.1:0";
  std::string http_address_;
  std::unique_ptr<Process> control_;
  std::vector<std::unique_ptr<Process>> nodes_;
  std::vector<std::string> node_addresses_;
  std::unique_ptr<herald::v1::Control::Stub> stub_;
};

}  // namespace herald::testing
