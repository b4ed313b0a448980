#include "common/logging.h"

#include <chrono>
#include <ctime>
#include <mutex>
#include <stdexcept>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/text_escape.h"

namespace herald {
namespace {

void appendJsonEscaped(spdlog::memory_buf_t& dest, spdlog::string_view_t text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string_view view(text.data(), text.size());
  for (size_t i = 0; i < view.size(); ++i) {
    const char raw = view[i];
    const auto c = static_cast<unsigned char>(raw);
    if (c >= 0x80) {
      // Valid UTF-8 is kept; anything else (and C1 controls) would make the line invalid JSON.
      const size_t n = utf8SequenceLength(view, i);
      if (n == 0) {
        dest.append(std::string_view("\\ufffd"));
      } else {
        dest.append(view.data() + i, view.data() + i + n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        dest.append(std::string_view("\\\""));
        break;
      case '\\':
        dest.append(std::string_view("\\\\"));
        break;
      case '\n':
        dest.append(std::string_view("\\n"));
        break;
      case '\r':
        dest.append(std::string_view("\\r"));
        break;
      case '\t':
        dest.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          dest.append(esc, esc + 6);
        } else {
          dest.push_back(raw);
        }
    }
  }
}

// One JSON object per line: {"ts","level","component","msg"}; the message is escaped, which a
// plain spdlog pattern cannot do.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto since_epoch = msg.time.time_since_epoch();
    const auto secs = duration_cast<seconds>(since_epoch);
    const auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
    const std::time_t tt = secs.count();
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char ts[40];
    const int n = std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, static_cast<int>(millis));
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(ts, ts + n);
    dest.append(std::string_view("\",\"level\":\""));
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(std::string_view("\",\"component\":\""));
    appendJsonEscaped(dest, msg.logger_name);
    dest.append(std::string_view("\",\"msg\":\""));
    appendJsonEscaped(dest, msg.payload);
    dest.append(std::string_view("\"}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The human format's message, control characters escaped: a message quoting what a peer sent
// (a node id, a channel) cannot start a line of its own or drive the terminal.
class EscapedMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    appendEscapedControl(&escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessageFlag>();
  }
};

constexpr char kHumanPattern[] = "%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %*";

std::unique_ptr<spdlog::formatter> humanFormatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessageFlag>('*').set_pattern(kHumanPattern);
  return formatter;
}

std::mutex g_mutex;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr sharedSink() {
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_sink->set_formatter(humanFormatter());
  }
  return g_sink;
}

}  // namespace

std::unique_ptr<spdlog::formatter> makeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) {
    return std::make_unique<JsonFormatter>();
  }
  return humanFormatter();
}

bool parseLogFormat(const std::string& text, LogFormat* out) {
  if (text == "human") {
    *out = LogFormat::kHuman;
    return true;
  }
  if (text == "json") {
    *out = LogFormat::kJson;
    return true;
  }
  return false;
}

void setupLogging(LogFormat format, const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level '" + level +
                                "' (use trace, debug, info, warn, error, critical or off)");
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  auto sink = sharedSink();
  sink->set_formatter(makeLogFormatter(format));
  g_level = parsed;
  spdlog::apply_all(
      [&](const std::shared_ptr<spdlog::logger>& logger) { logger->set_level(parsed); });
}

std::shared_ptr<spdlog::logger> componentLogger(const std::string& component) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (auto existing = spdlog::get(component)) {
    return existing;
  }
  auto logger = std::make_shared<spdlog::logger>(component, sharedSink());
  logger->set_level(g_level);
  logger->flush_on(spdlog::level::info);  // scripts wait for "listening on": no buffering
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace herald
