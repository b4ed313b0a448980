#pragma once

#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

namespace herald {

enum class LogFormat { kHuman, kJson };

// Parses "human" | "json"; returns false on anything else.
bool parseLogFormat(const std::string& text, LogFormat* out);

// Configures the process-wide sinks (stderr) once at start-up. `level` is an spdlog level
// name ("trace".."critical", "off"); throws std::invalid_argument on an unknown one.
void setupLogging(LogFormat format, const std::string& level);

// The formatter of each format: human lines escape control characters in the message (a
// message may quote what a peer sent); JSON lines are valid JSON whatever the message holds.
std::unique_ptr<spdlog::formatter> makeLogFormatter(LogFormat format);

// A logger per component ("control", "node", "link", "shard"...), sharing the sinks set up
// above. In JSON format the component is the `component` field of each line.
std::shared_ptr<spdlog::logger> componentLogger(const std::string& component);

}  // namespace herald
