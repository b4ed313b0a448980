#include "integration/support/cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <grpcpp/support/client_interceptor.h>

namespace herald::testing {

const char* controlBinary() { return HERALD_CONTROL_BIN; }
const char* nodeBinary() { return HERALD_NODE_BIN; }
const char* heraldctlBinary() { return HERALDCTL_BIN; }
const char* benchBinary() { return HERALD_BENCH_BIN; }

::testing::AssertionResult contiguous(const std::vector<uint64_t>& offsets, uint64_t first,
                                      uint64_t last) {
  uint64_t expected = first;
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (offsets[i] != expected) {
      return ::testing::AssertionFailure()
             << "at position " << i << " got offset " << offsets[i] << ", expected " << expected
             << (offsets[i] < expected ? " (duplicate or out of order)" : " (gap)");
    }
    ++expected;
  }
  if (expected != last + 1) {
    return ::testing::AssertionFailure()
           << "stopped at " << expected - 1 << ", expected up to " << last;
  }
  return ::testing::AssertionSuccess();
}

int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
}

namespace {

// Adds the API key to every call, as a real backend's client would.
class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  BearerInterceptor(std::string key) : key_(std::move(key)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", "Bearer " + key_});
    }
    methods->Proceed();
  }

 private:
  std::string key_;
};

class BearerInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string key) : key_(std::move(key)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(key_);
  }

 private:
  std::string key_;
};

}  // namespace

std::unique_ptr<herald::v1::Control::Stub> controlStub(const std::string& address,
                                                       const std::string& api_key) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  if (!api_key.empty()) {
    factories.push_back(std::make_unique<BearerInterceptorFactory>(api_key));
  }
  auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      address, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(), std::move(factories));
  return herald::v1::Control::NewStub(channel);
}

nlohmann::json defaultControlConfig() {
  return {{"auth",
           {{"allow_anonymous", true},
            {"keys", {{{"kid", "test"}, {"algorithm", "HS256"}, {"secret", kTestJwtSecret}}}}}}};
}

Cluster::Cluster(nlohmann::json control_config) {
  std::ofstream(data_dir_.path() + "/control.json") << control_config.dump(2);
}

Cluster::~Cluster() {
  for (auto& n : nodes_) {
    n->stop(SIGKILL, 10s);
  }
  if (control_) {
    control_->stop(SIGKILL, 10s);
  }
}

void Cluster::startControl(const std::vector<std::string>& extra_args,
                           const std::vector<std::string>& extra_env) {
  std::vector<std::string> args = {"--grpc-listen",
                                   control_address_,
                                   "--data-dir",
                                   data_dir_.path() + "/state",
                                   "--config",
                                   data_dir_.path() + "/control.json",
                                   "--heartbeat-interval-ms",
                                   "200",
                                   "--node-timeout-ms",
                                   "1500",
                                   "--admin-key",
                                   kTestAdminKey,
                                   "--node-secret",
                                   kTestNodeSecret,
                                   "--http-listen",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  control_ = std::make_unique<Process>(controlBinary(), args, extra_env);
  auto address = control_->waitListening(30s);
  auto http = control_->waitListening(30s, "http on ");
  if (!address || !http) {
    throw std::runtime_error("herald-control did not start:\n" + control_->output());
  }
  control_address_ = *address;
  http_address_ = *http;
  stub_ = controlStub(control_address_, kTestAdminKey);
}

void Cluster::stopControl(int sig) {
  if (control_) {
    control_->stop(sig, 15s);
  }
}

size_t Cluster::startNode(const std::vector<std::string>& extra_args,
                          const std::vector<std::string>& extra_env) {
  std::vector<std::string> args = {
      "--listen", "127.0.0.1:0",   "--control",     control_address_,     "--shards",
      "2",        "--node-secret", kTestNodeSecret, "--reconnect-max-ms", "500"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  nodes_.push_back(std::make_unique<Process>(nodeBinary(), args, extra_env));
  auto address = nodes_.back()->waitListening(30s);
  if (!address) {
    throw std::runtime_error("herald-node did not start:\n" + nodes_.back()->output());
  }
  node_addresses_.push_back(*address);
  return nodes_.size() - 1;
}

std::string Cluster::wsUrl(size_t node, const std::string& query) const {
  return "ws://" + node_addresses_[node] + "/ws" + (query.empty() ? "" : "?" + query);
}

bool Cluster::waitHealthyNodes(size_t count, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 2s);
        herald::v1::ListNodesResponse resp;
        if (!stub_->ListNodes(&ctx, herald::v1::ListNodesRequest(), &resp).ok()) {
          return false;
        }
        size_t healthy = 0;
        for (const auto& n : resp.nodes()) {
          // Healthy and configured: a node accepts clients once it applied a config.
          healthy += n.health() == herald::v1::NODE_HEALTH_HEALTHY && n.config_version_acked() > 0;
        }
        return healthy == count;
      },
      timeout);
}

bool Cluster::waitInterest(const std::string& channel, uint32_t nodes,
                           std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 2s);
        herald::v1::ListChannelsRequest req;
        req.set_prefix(channel);
        herald::v1::ListChannelsResponse resp;
        if (!stub_->ListChannels(&ctx, req, &resp).ok()) {
          return false;
        }
        for (const auto& c : resp.channels()) {
          if (c.channel() == channel) {
            return c.nodes() == nodes;
          }
        }
        return nodes == 0;
      },
      timeout);
}

bool Cluster::waitAckedVersion(uint64_t version, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 2s);
        herald::v1::ListNodesResponse resp;
        if (!stub_->ListNodes(&ctx, herald::v1::ListNodesRequest(), &resp).ok()) {
          return false;
        }
        for (const auto& n : resp.nodes()) {
          if (n.health() == herald::v1::NODE_HEALTH_HEALTHY &&
              n.config_version_acked() != version) {
            return false;
          }
        }
        return resp.nodes_size() > 0;
      },
      timeout);
}

::testing::AssertionResult Cluster::setLimits(
    const std::function<void(herald::v1::Limits*)>& change) {
  grpc::ClientContext ctx;
  herald::v1::SetLimitsRequest req;
  change(req.mutable_limits());
  herald::v1::SetLimitsResponse resp;
  if (grpc::Status s = stub_->SetLimits(&ctx, req, &resp); !s.ok()) {
    return ::testing::AssertionFailure() << "SetLimits: " << s.error_message();
  }
  if (!waitAckedVersion(resp.config_version())) {
    return ::testing::AssertionFailure() << "config " << resp.config_version() << " not acked";
  }
  return ::testing::AssertionSuccess();
}

herald::v1::PublishResponse Cluster::publish(const std::string& channel, const std::string& data,
                                             const std::string& event) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  herald::v1::PublishRequest req;
  req.set_channel(channel);
  req.set_data(data);
  req.set_event(event);
  herald::v1::PublishResponse resp;
  grpc::Status s = stub_->Publish(&ctx, req, &resp);
  if (!s.ok()) {
    throw std::runtime_error("publish failed: " + s.error_message());
  }
  return resp;
}

::testing::AssertionResult Cluster::createNamespace(const herald::v1::Namespace& ns) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  herald::v1::CreateNamespaceRequest req;
  *req.mutable_namespace_() = ns;
  herald::v1::CreateNamespaceResponse resp;
  const grpc::Status s = stub_->CreateNamespace(&ctx, req, &resp);
  if (!s.ok()) {
    return ::testing::AssertionFailure() << "CreateNamespace: " << s.error_message();
  }
  if (!waitAckedVersion(resp.config_version())) {
    return ::testing::AssertionFailure() << "config " << resp.config_version() << " not acked";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace herald::testing
