#include "common/signals.h"

#include <pthread.h>

namespace herald {

sigset_t blockTerminationSignals() {
  // Signals are then taken synchronously by one thread instead of interrupting any of them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

const char* waitForTerminationSignal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

}  // namespace herald
