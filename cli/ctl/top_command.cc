// heraldctl top: a refreshing view of the cluster, like top(1). `q` or Ctrl-C quits; --once
// prints one frame (two samples a second apart, so rates are real) for scripts.
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/ctl/top_view.h"

namespace herald::ctl {
namespace {

std::atomic<bool> g_interrupted{false};

void onInterrupt(int) { g_interrupted = true; }

// Raw keys (no echo, no line buffering) while top runs on a terminal; restored on every exit.
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
  }

 private:
  termios saved_{};
  bool active_ = false;
};

// Waits up to `timeout` for a key; true when it was q or Q. `stdin_open` turns false at EOF
// (stdin a closed pipe), after which only the timeout or Ctrl-C ends the wait.
bool waitForQuit(std::chrono::milliseconds timeout, bool* stdin_open) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!g_interrupted) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    if (!*stdin_open) {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(100)));
      continue;
    }
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&in, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (ready > 0) {
      char c = 0;
      const ssize_t n = ::read(STDIN_FILENO, &c, 1);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        *stdin_open = false;
      } else if (n == 1 && (c == 'q' || c == 'Q')) {
        return true;
      }
    }
  }
  return false;
}

// One sample of the cluster; false (with the error printed) when a call failed.
// One call with a fresh deadline; false (the error printed) when it failed.
template <typename Request, typename Response>
bool callOk(const char* what, const Options& o, const Request& request, Response* response,
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
            Stub& stub) {
  auto ctx = newContext(o);
  const grpc::Status status = (stub.*method)(ctx.get(), request, response);
  if (!status.ok()) {
    fail(what, status, o);
    return false;
  }
  return true;
}

// One sample of the cluster; false (with the error printed) when a call failed.
bool takeSample(Stub& stub, const Options& o, TopSample* sample) {
  herald::v1::ListChannelsRequest channels;
  channels.set_page_size(1000);  // the first page: enough to rank the busiest (docs/api.md)
  const bool ok =
      callOk("stats", o, herald::v1::ClusterStatsRequest(), &sample->stats, &Stub::ClusterStats,
             stub) &&
      callOk("nodes", o, herald::v1::ListNodesRequest(), &sample->nodes, &Stub::ListNodes, stub) &&
      callOk("channels", o, channels, &sample->channels, &Stub::ListChannels, stub) &&
      callOk("info", o, herald::v1::InfoRequest(), &sample->info, &Stub::Info, stub);
  sample->at_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return ok;
}

}  // namespace

int topCommand(Stub& stub, grpc::ClientContext&, const Options& o) {
  if (o.json) {
    usageError("top has no --json: use stats, nodes and channels --json");
  }
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(o.interval_s * 1000));
  struct sigaction action = {};
  action.sa_handler = onInterrupt;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  TopSample previous, current;
  if (!takeSample(stub, o, &previous)) {
    return 1;
  }
  if (o.once) {
    bool stdin_open = false;  // --once reads no keys
    waitForQuit(std::chrono::seconds(1), &stdin_open);
    if (!takeSample(stub, o, &current)) {
      return 1;
    }
    std::fputs(renderTop(&previous, current, o.control).c_str(), stdout);
    return 0;
  }
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  RawTerminal raw;
  bool stdin_open = true;
  bool have_previous = false;
  current = previous;
  while (true) {
    std::string frame = renderTop(have_previous ? &previous : nullptr, current, o.control);
    if (terminal) {
      // Home and clear, then the frame: the view stays in place like top(1).
      std::fputs("\x1b[H\x1b[2J", stdout);
      frame += "\n(q or Ctrl-C quits; refreshing every " + std::to_string(o.interval_s) + " s)\n";
    } else {
      frame += "\n";
    }
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    if (waitForQuit(interval, &stdin_open) || g_interrupted) {
      return 0;
    }
    previous = current;
    have_previous = true;
    if (!takeSample(stub, o, &current)) {
      return 1;
    }
  }
}

}  // namespace herald::ctl
