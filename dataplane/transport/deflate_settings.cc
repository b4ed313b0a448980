#include "dataplane/transport/deflate_settings.h"

#include <atomic>

namespace herald::node {

namespace {

DeflateSettings g_settings;
std::atomic<int64_t> g_connections{0};

}  // namespace

void setDeflateSettings(const DeflateSettings& settings) { g_settings = settings; }

const DeflateSettings& deflateSettings() { return g_settings; }

void countDeflateConnection(int delta) {
  g_connections.fetch_add(delta, std::memory_order_relaxed);
}

bool anyDeflateConnection() { return g_connections.load(std::memory_order_relaxed) > 0; }

}  // namespace herald::node
