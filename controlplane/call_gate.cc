#include "controlplane/call_gate.h"

#include <map>
#include <string>

#include <grpc/grpc_security.h>
#include <grpcpp/security/auth_metadata_processor.h>

namespace herald::control {
namespace {

constexpr std::string_view kNodeLinkPrefix = "/herald.v1.NodeLink/";
constexpr std::string_view kBearer = "Bearer ";

std::string_view toView(const grpc_slice& slice) {
  return std::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
                          GRPC_SLICE_LENGTH(slice));
}

// The gate over the C core's processor interface: what plaintext credentials take.
void processCore(void* state, grpc_auth_context*, const grpc_metadata* md, size_t count,
                 grpc_process_auth_metadata_done_cb done, void* user_data) {
  std::string_view path, authorization, node_secret;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view key = toView(md[i].key);
    if (key == ":path") {
      path = toView(md[i].value);
    } else if (key == "authorization") {
      authorization = toView(md[i].value);
    } else if (key == kNodeSecretMetadata) {
      node_secret = toView(md[i].value);
    }
  }
  const Status admitted =
      static_cast<const CallGate*>(state)->admit(path, authorization, node_secret);
  done(user_data, nullptr, 0, nullptr, 0,
       admitted.isOk() ? GRPC_STATUS_OK : GRPC_STATUS_UNAUTHENTICATED,
       admitted.isOk() ? nullptr : admitted.message().c_str());
}

void destroyCore(void* state) { delete static_cast<std::shared_ptr<const CallGate>*>(state); }

// Plaintext credentials with the gate. grpc++ 1.51's InsecureServerCredentials refuses an
// auth processor, but the core's insecure credentials run one like TLS ones do.
class GatedInsecureCredentials final : public grpc::ServerCredentials {
 public:
  explicit GatedInsecureCredentials(std::shared_ptr<const CallGate> gate)
      : gate_(std::move(gate)) {}

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    grpc_server_credentials* creds = grpc_insecure_server_credentials_create();
    grpc_auth_metadata_processor processor;
    processor.process = [](void* state, grpc_auth_context* context, const grpc_metadata* md,
                           size_t count, grpc_process_auth_metadata_done_cb done, void* user_data) {
      processCore(
          const_cast<CallGate*>(static_cast<std::shared_ptr<const CallGate>*>(state)->get()),
          context, md, count, done, user_data);
    };
    processor.destroy = destroyCore;
    processor.state = new std::shared_ptr<const CallGate>(gate_);
    grpc_server_credentials_set_auth_metadata_processor(creds, processor);
    const int port = grpc_server_add_http2_port(server, addr.c_str(), creds);
    grpc_server_credentials_release(creds);
    return port;
  }

  bool IsInsecure() const override { return true; }

 private:
  std::shared_ptr<const CallGate> gate_;
};

// The gate over grpc++'s processor interface: what TLS credentials take.
class GateProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit GateProcessor(std::shared_ptr<const CallGate> gate) : gate_(std::move(gate)) {}
  bool IsBlocking() const override { return false; }  // a hash and a map look-up
  grpc::Status Process(const InputMetadata& md, grpc::AuthContext*, OutputMetadata*,
                       OutputMetadata*) override {
    const auto find = [&](std::string_view key) {
      auto it = md.find(grpc::string_ref(key.data(), key.size()));
      return it == md.end() ? std::string_view()
                            : std::string_view(it->second.data(), it->second.size());
    };
    const Status admitted =
        gate_->admit(find(":path"), find("authorization"), find(kNodeSecretMetadata));
    return admitted.isOk() ? grpc::Status::OK
                           : grpc::Status(grpc::StatusCode::UNAUTHENTICATED, admitted.message());
  }

 private:
  std::shared_ptr<const CallGate> gate_;
};

}  // namespace

Status CallGate::admit(std::string_view path, std::string_view authorization,
                       std::string_view presented_node_secret) const {
  if (path.substr(0, kNodeLinkPrefix.size()) == kNodeLinkPrefix) {
    return nodes_.admit(presented_node_secret);
  }
  if (authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer &&
      keys_.roleOf(std::string(authorization.substr(kBearer.size())))) {
    return Status::ok();
  }
  return Status(ErrorCode::kUnauthorized,
                "missing or unknown API key: send metadata 'authorization: Bearer <key>' "
                "(heraldctl: --api-key or HERALD_API_KEY)");
}

std::shared_ptr<grpc::ServerCredentials> gatedCredentials(
    std::shared_ptr<const CallGate> gate, std::shared_ptr<grpc::ServerCredentials> tls) {
  if (!tls) {
    return std::make_shared<GatedInsecureCredentials>(std::move(gate));
  }
  tls->SetAuthMetadataProcessor(std::make_shared<GateProcessor>(std::move(gate)));
  return tls;
}

}  // namespace herald::control
