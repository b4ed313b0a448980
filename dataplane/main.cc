#include <csignal>
#include <cstdio>
#include <exception>

#include "common/logging.h"
#include "dataplane/node.h"
#include "dataplane/node_config.h"

int main(int argc, char** argv) {
  herald::node::NodeConfig config;
  try {
    config = herald::node::parseNodeArgs(argc, argv);
    herald::LogFormat format;
    herald::parseLogFormat(config.log_format, &format);
    herald::setupLogging(format, config.log_level);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald-node: %s\n", e.what());
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto log = herald::componentLogger("node");
  try {
    herald::node::Node node(config);
    node.start();
    int sig = 0;
    sigwait(&signals, &sig);
    log->info("{} received: closing client connections (1012) and stopping",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
    node.shutdown(std::chrono::seconds(5));
    log->info("stopped");
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  return 0;
}
