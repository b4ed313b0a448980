#include <csignal>
#include <cstdio>
#include <exception>

#include "common/file_limit.h"
#include "common/logging.h"
#include "common/signals.h"
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
  const sigset_t signals = herald::blockTerminationSignals();

  auto log = herald::componentLogger("node");
  try {
    const uint64_t files = herald::raiseOpenFileLimit();
    log->info("open-file limit {} (each client connection holds one)", files);
    herald::node::Node node(config);
    node.start();
    const char* received = herald::waitForTerminationSignal(signals);
    log->info("{} received: closing client connections (1012) and stopping", received);
    node.shutdown(std::chrono::seconds(5));
    log->info("stopped");
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  return 0;
}
