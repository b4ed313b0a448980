#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace herald {

enum class LogFormat { kHuman, kJson };

// Parses "human" | "json"; returns false on anything else.
bool parseLogFormat(const std::string& text, LogFormat* out);

// Configures the process-wide sinks (stderr) once at start-up. `level` is an spdlog level
// name ("trace".."critical", "off"); throws std::invalid_argument on an unknown one.
void setupLogging(LogFormat format, const std::string& level);

// A logger per component ("control", "node", "link", "shard"...), sharing the sinks set up
// above. In JSON format the component is the `component` field of each line.
std::shared_ptr<spdlog::logger> componentLogger(const std::string& component);

}  // namespace herald
