#pragma once

#include <csignal>

namespace herald {

// Blocks SIGINT/SIGTERM in this thread and every thread started after it (call first thing in
// main), and ignores SIGPIPE (a peer closing a socket is an error code, not a crash).
sigset_t blockTerminationSignals();

// Waits for SIGINT or SIGTERM; returns its name.
const char* waitForTerminationSignal(const sigset_t& signals);

}  // namespace herald
