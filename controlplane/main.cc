#include <csignal>
#include <cstdio>
#include <exception>

#include "common/config_reader.h"
#include "common/logging.h"
#include "common/signals.h"
#include "controlplane/control_config.h"
#include "controlplane/control_server.h"

int main(int argc, char** argv) {
  herald::control::ControlConfig config;
  try {
    config = herald::control::parseControlArgs(argc, argv);
    herald::LogFormat format;
    herald::parseLogFormat(config.log_format, &format);
    herald::setupLogging(format, config.log_level);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald-control: %s\n", e.what());
    return 2;
  }
  const sigset_t signals = herald::blockTerminationSignals();

  auto log = herald::componentLogger("control");
  try {
    herald::control::ControlServer server(config);
    server.start();
    const char* received = herald::waitForTerminationSignal(signals);
    log->info("{} received: finishing in-flight calls (5 s at most)", received);
    server.shutdown(std::chrono::seconds(5));
    server.wait();
    log->info("stopped");
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  return 0;
}
