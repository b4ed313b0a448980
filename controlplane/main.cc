#include <csignal>
#include <cstdio>
#include <exception>

#include "common/config_reader.h"
#include "common/logging.h"
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
  // Signals are taken synchronously by one thread; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto log = herald::componentLogger("control");
  try {
    herald::control::ControlServer server(config);
    server.start();
    int sig = 0;
    sigwait(&signals, &sig);
    log->info("{} received: finishing in-flight calls (5 s at most)",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.shutdown(std::chrono::seconds(5));
    server.wait();
    log->info("stopped");
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  return 0;
}
