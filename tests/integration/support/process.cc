#include "integration/support/process.h"

#include <fstream>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace herald::testing {
namespace {

std::vector<char*> argvOf(const std::string& binary, const std::vector<std::string>& args,
                          std::vector<std::string>* storage) {
  storage->clear();
  storage->push_back(binary);
  storage->insert(storage->end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : *storage) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const std::vector<std::string>& extra_env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> storage;
  auto argv = argvOf(binary, args, &storage);
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& extra : extra_env) {
      replaced |= extra.compare(0, name.size() + 1, name + "=") == 0;
    }
    if (!replaced) {
      env_storage.push_back(entry);
    }
  }
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    // Die with the test: a crashed test must not leave daemons behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execve(binary.c_str(), argv.data(), envp.data());
    std::fprintf(stderr, "exec %s failed: %s\n", binary.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { readLoop(fd); });
}

Process::~Process() {
  if (running()) {
    stop(SIGKILL, std::chrono::seconds(10));
  }
  if (reader_.joinable()) {
    reader_.join();
  }
}

void Process::readLoop(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      break;
    }
    output_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
}

bool Process::waitForOutput(const std::string& needle, std::chrono::milliseconds timeout,
                            size_t from) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return output_.find(needle, from) != std::string::npos || eof_;
  }) && output_.find(needle, from) != std::string::npos;
}

std::optional<std::string> Process::waitListening(std::chrono::milliseconds timeout,
                                                  const std::string& marker) {
  if (!waitForOutput(marker, timeout)) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const size_t at = output_.find(marker) + marker.size();
  const size_t end = output_.find_first_of(" \n\"", at);
  return output_.substr(at, end - at);
}

void Process::signal(int sig) {
  if (pid_ > 0) {
    ::kill(pid_, sig);
  }
}

bool Process::running() {
  if (exit_status_ || pid_ <= 0) {
    return false;
  }
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = status;
    return false;
  }
  return true;
}

std::optional<int> Process::waitExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    // waitpid has no timeout; poll the child's state at a short interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_status_;
}

std::optional<int> Process::stop(int sig, std::chrono::milliseconds timeout) {
  if (!running()) {
    return exit_status_;
  }
  signal(sig);
  auto status = waitExit(timeout);
  if (!status) {
    signal(SIGKILL);
    waitExit(std::chrono::seconds(10));
  }
  return status;
}

long Process::statusKb(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::atol(line.c_str() + field.size() + 1);
    }
  }
  return -1;
}

std::string Process::output() const {
  std::lock_guard<std::mutex> lock(mu_);
  return output_;
}

CommandResult runCommand(const std::string& binary, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env) {
  int out_fds[2], err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0 || ::pipe2(err_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> storage;
  auto argv = argvOf(binary, args, &storage);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    env_storage.emplace_back(*e);
  }
  for (const auto& e : extra_env) {
    env_storage.push_back(e);
  }
  std::vector<char*> envp;
  for (auto& e : env_storage) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fds[1], 1);
    ::dup2(err_fds[1], 2);
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd pfds[2] = {{out_fds[0], POLLIN, 0}, {err_fds[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(pfds, 2, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (pfds[i].fd >= 0 && (pfds[i].revents & (POLLIN | POLLHUP)) != 0) {
        const ssize_t n = ::read(pfds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          ::close(pfds[i].fd);
          pfds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
        }
      }
    }
  }
  for (auto& p : pfds) {
    if (p.fd >= 0) {
      ::close(p.fd);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/herald-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = tmpl;
}

TempDir::~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }

}  // namespace herald::testing
