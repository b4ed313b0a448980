#pragma once
// Reading a /metrics exposition in tests: its samples, and Debian's promtool's verdict on it.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "integration/support/process.h"

namespace herald::testing {

inline constexpr char kPromtool[] = "/usr/bin/promtool";  // Debian's `prometheus` (install-deps)

// "name{labels} value" lines of the text format, keyed by everything before the value.
inline std::map<std::string, double> parseSamples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const size_t space = line.rfind(' ');
    if (space != std::string::npos) {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
  }
  return out;
}

// Runs `promtool check metrics` on `text`; returns its exit status and what it printed.
inline std::pair<int, std::string> promtoolCheck(const TempDir& dir, const std::string& text) {
  const std::string input = dir.path() + "/metrics.txt";
  std::ofstream(input) << text;
  const std::string cmd = std::string(kPromtool) + " check metrics < " + input + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    return {-1, "popen failed"};
  }
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) {
    output.append(buf, n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace herald::testing
