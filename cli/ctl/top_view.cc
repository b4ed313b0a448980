#include "cli/ctl/top_view.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "cli/ctl/output.h"
#include "cli/table.h"
#include "common/text_escape.h"

namespace herald::ctl {
namespace {

// A counter's rate between two samples; "-" without an earlier sample (or after a reset).
std::string rate(bool have, uint64_t before, uint64_t now, double seconds) {
  if (!have || seconds <= 0 || now < before) {
    return "-";
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(now - before) / seconds);
  return buf;
}

}  // namespace

std::string renderTop(const TopSample* previous, const TopSample& current,
                      const std::string& control_address) {
  const bool have = previous != nullptr;
  const double seconds = have ? current.at_seconds - previous->at_seconds : 0;
  const auto& s = current.stats;
  std::string out;
  char line[512];
  // What the control plane says is escaped: nothing it sends may drive the terminal.
  std::snprintf(line, sizeof(line), "herald top: %s, %s, engine %s, config version %llu\n",
                escapeControl(control_address).c_str(), escapeControl(current.info.build()).c_str(),
                escapeControl(current.info.engine()).c_str(),
                static_cast<unsigned long long>(s.config_version()));
  out += line;
  std::snprintf(
      line, sizeof(line),
      "nodes %u/%u healthy  connections %llu  users %llu  subscriptions %llu  "
      "deliveries/s %s  publications/s %s\n\n",
      s.healthy_nodes(), s.nodes(), static_cast<unsigned long long>(s.connections()),
      static_cast<unsigned long long>(s.users()),
      static_cast<unsigned long long>(s.subscriptions()),
      rate(have, have ? previous->stats.messages_out() : 0, s.messages_out(), seconds).c_str(),
      rate(have, have ? previous->stats.publications() : 0, s.publications(), seconds).c_str());
  out += line;

  std::map<std::string, uint64_t> delivered_before;
  if (have) {
    for (const auto& n : previous->nodes.nodes()) {
      delivered_before[n.node_id()] = n.messages_out();
    }
  }
  cli::Table nodes({"NODE", "ADDRESS", "HEALTH", "CONNS", "SUBS", "DELIVERIES/S", "CONFIG"});
  for (const auto& n : current.nodes.nodes()) {
    auto it = delivered_before.find(n.node_id());
    nodes.add({n.node_id(), n.address(), healthName(n.health()), std::to_string(n.connections()),
               std::to_string(n.subscriptions()),
               rate(it != delivered_before.end(), it != delivered_before.end() ? it->second : 0,
                    n.messages_out(), seconds),
               std::to_string(n.config_version_acked())});
  }
  out += nodes.toString();
  if (current.nodes.nodes_size() == 0) {
    out += "(no nodes connected)\n";
  }

  std::map<std::string, uint64_t> offset_before;
  if (have) {
    for (const auto& c : previous->channels.channels()) {
      offset_before[c.channel()] = c.offset();
    }
  }
  // The channels listed (a first page) and ClusterStats' biggest, which may lie beyond it
  // (those have no offset here: "-").
  std::vector<herald::v1::ChannelInfo> top(current.channels.channels().begin(),
                                           current.channels.channels().end());
  std::set<std::string> unlisted;
  for (const auto& big : s.top_subscribed_channels()) {
    auto it = std::find_if(top.begin(), top.end(),
                           [&](const auto& c) { return c.channel() == big.channel(); });
    if (it == top.end()) {
      herald::v1::ChannelInfo c;
      c.set_channel(big.channel());
      c.set_subscribers(big.subscribers());
      c.set_nodes(big.nodes());
      top.push_back(std::move(c));
      unlisted.insert(big.channel());
    }
  }
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
    return a.subscribers() != b.subscribers() ? a.subscribers() > b.subscribers()
                                              : a.channel() < b.channel();
  });
  if (top.size() > kTopChannels) {
    top.resize(kTopChannels);
  }
  out += "\n";
  cli::Table channels({"CHANNEL", "SUBSCRIBERS", "NODES", "OFFSET", "PUBLICATIONS/S"});
  for (const auto& c : top) {
    const bool listed = unlisted.count(c.channel()) == 0;
    auto it = offset_before.find(c.channel());
    channels.add({escapeControl(c.channel()), std::to_string(c.subscribers()),
                  std::to_string(c.nodes()), listed ? std::to_string(c.offset()) : "-",
                  rate(listed && it != offset_before.end(),
                       it != offset_before.end() ? it->second : 0, c.offset(), seconds)});
  }
  out += channels.toString();
  if (top.empty()) {
    out += "(no channels yet)\n";
  }
  return out;
}

}  // namespace herald::ctl
