#include "dataplane/transport/deflate_settings.h"

namespace herald::node {

namespace {

DeflateSettings g_settings;

}  // namespace

void setDeflateSettings(const DeflateSettings& settings) { g_settings = settings; }

const DeflateSettings& deflateSettings() { return g_settings; }

}  // namespace herald::node
