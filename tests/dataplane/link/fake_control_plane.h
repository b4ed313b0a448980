#pragma once
// A NodeLink service for node-side tests, on loopback in the test process.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "herald/v1/node_link.grpc.pb.h"

namespace herald::node {

// A control plane that answers every Hello with a config snapshot, records what the node
// sends (tagged with the session it came on) and lets the test push messages or end a session.
class FakeControlPlane final : public herald::v1::NodeLink::Service {
 public:
  struct Received {
    int session;
    herald::v1::NodeMessage message;
  };

  grpc::Status Session(grpc::ServerContext* ctx,
                       grpc::ServerReaderWriter<herald::v1::ControlMessage,
                                                herald::v1::NodeMessage>* stream) override {
    int session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session = ++sessions_;
      stream_ = stream;
      ctx_ = ctx;
    }
    herald::v1::NodeMessage message;
    while (stream->Read(&message)) {
      if (message.has_hello()) {
        herald::v1::ControlMessage config;
        {
          std::lock_guard<std::mutex> lock(mu_);
          *config.mutable_config() = snapshot_;
        }
        if (config.config().version() == 0) {
          config.mutable_config()->set_version(static_cast<uint64_t>(session));
        }
        config.mutable_config()->set_heartbeat_interval_ms(1000);
        send(config);
      }
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back({session, message});
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    stream_ = nullptr;
    ctx_ = nullptr;
    return grpc::Status::OK;
  }

  void send(const herald::v1::ControlMessage& message) {
    std::lock_guard<std::mutex> lock(write_mu_);
    std::lock_guard<std::mutex> state(mu_);
    if (stream_ != nullptr) {
      stream_->Write(message);
    }
  }

  // What every later Hello is answered with (version 0: the session's number).
  void setSnapshot(herald::v1::ConfigSnapshot snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snapshot);
  }

  // Ends the current session from the control plane's side (as a restart would).
  void endSession() {
    std::lock_guard<std::mutex> lock(mu_);
    if (ctx_ != nullptr) {
      ctx_->TryCancel();
    }
  }

  // The first message after index `from` that `match` accepts, waiting up to `timeout`.
  template <typename Match>
  std::optional<Received> waitFor(Match match, size_t* from, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<Received> found;
    cv_.wait_for(lock, timeout, [&] {
      for (; *from < received_.size(); ++*from) {
        if (match(received_[*from].message)) {
          found = received_[(*from)++];
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  int sessions_ = 0;
  grpc::ServerReaderWriter<herald::v1::ControlMessage, herald::v1::NodeMessage>* stream_ = nullptr;
  grpc::ServerContext* ctx_ = nullptr;
  std::deque<Received> received_;
  herald::v1::ConfigSnapshot snapshot_;
};

// Runs a FakeControlPlane on 127.0.0.1 (ephemeral port) for the life of the object.
class FakeControlPlaneServer {
 public:
  FakeControlPlaneServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service);
    server_ = builder.BuildAndStart();
  }
  ~FakeControlPlaneServer() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  FakeControlPlane service;

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace herald::node
