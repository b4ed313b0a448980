#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace herald::testing {

// A child process (a real Herald binary) whose stdout+stderr are captured for assertions.
class Process {
 public:
  // `extra_env`: "NAME=value" entries added to (or replacing those of) the test's environment.
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::vector<std::string>& extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits until the output contains `needle`; false on timeout or exit.
  bool waitForOutput(const std::string& needle, std::chrono::milliseconds timeout, size_t from = 0);
  // Waits for the daemon's "listening on HOST:PORT" line and returns HOST:PORT.
  std::optional<std::string> waitListening(std::chrono::milliseconds timeout,
                                           const std::string& marker = "listening on ");
  // Sends `sig` and waits for exit; returns the raw wait status, or nullopt on timeout.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout);
  // Waits for the process to exit on its own.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  void signal(int sig);
  bool running();

  pid_t pid() const { return pid_; }
  // A field of /proc/PID/status in kB (e.g. "VmHWM", the peak resident memory); -1 if absent.
  long statusKb(const std::string& field) const;
  std::string output() const;

 private:
  void readLoop(int fd);

  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;
  bool eof_ = false;
  std::optional<int> exit_status_;
};

// Runs a command to completion (bounded by `timeout`), returning exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
CommandResult runCommand(const std::string& binary, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env = {});

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace herald::testing
