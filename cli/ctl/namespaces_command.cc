// heraldctl namespaces: list, get, delete, create and update.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/table.h"

namespace herald::ctl {
namespace {

void printNamespaces(const std::vector<herald::v1::Namespace>& list) {
  herald::cli::Table t({"NAMESPACE", "RULE", "OWNER CLAIM", "CLIENT PUBLISH", "HISTORY", "TTL",
                        "MAX SUBS", "SLOW CONSUMER", "PUBLISH HOOK"});
  for (const auto& n : list) {
    std::string rule = "public";
    switch (n.subscribe_rule()) {
      case herald::v1::SUBSCRIBE_RULE_AUTHENTICATED:
        rule = "authenticated";
        break;
      case herald::v1::SUBSCRIBE_RULE_OWNER:
        rule = "owner";
        break;
      case herald::v1::SUBSCRIBE_RULE_GRANTED:
        rule = "granted";
        break;
      case herald::v1::SUBSCRIBE_RULE_HOOK:
        rule = "hook:" + n.subscribe_hook();
        break;
      default:
        break;
    }
    t.add({n.name().empty() ? "(default)" : n.name(), rule,
           n.owner_claim().empty() ? "-" : n.owner_claim(), n.allow_client_publish() ? "yes" : "no",
           std::to_string(n.history_size()), std::to_string(n.history_ttl_seconds()),
           std::to_string(n.max_subscribers()), policyName(n.slow_consumer_policy()),
           n.publish_hook().empty() ? "-" : n.publish_hook()});
  }
  t.print(stdout);
}

}  // namespace

int namespacesCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const std::string sub = o.args.size() > 1 ? o.args[1] : "list";
  if (sub == "list") {
    herald::v1::ListNamespacesRequest req;
    req.set_page_size(1000);
    herald::v1::ListNamespacesResponse resp;
    grpc::Status s = stub.ListNamespaces(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("namespaces list", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      printNamespaces({resp.namespaces().begin(), resp.namespaces().end()});
    }
    return 0;
  }
  if (o.args.size() != 3) {
    usageError("namespaces " + sub + " needs NAME (\"\" for the default namespace)");
  }
  const std::string& name = o.args[2];
  if (sub == "get") {
    herald::v1::GetNamespaceRequest req;
    req.set_name(name);
    herald::v1::GetNamespaceResponse resp;
    grpc::Status s = stub.GetNamespace(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("namespaces get", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      printNamespaces({resp.namespace_()});
    }
    return 0;
  }
  if (sub == "delete") {
    herald::v1::DeleteNamespaceRequest req;
    req.set_name(name);
    herald::v1::DeleteNamespaceResponse resp;
    grpc::Status s = stub.DeleteNamespace(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("namespaces delete", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      std::printf("deleted namespace '%s' (config version %llu)\n", name.c_str(),
                  static_cast<unsigned long long>(resp.config_version()));
    }
    return 0;
  }
  if (sub != "create" && sub != "update") {
    usageError("namespaces: unknown subcommand '" + sub + "'");
  }
  // update changes only what the flags name: read the namespace first.
  herald::v1::Namespace ns;
  ns.set_name(name);
  ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_PUBLIC);
  if (sub == "update") {
    herald::v1::GetNamespaceRequest get;
    get.set_name(name);
    herald::v1::GetNamespaceResponse current;
    auto read_ctx = newContext(o);  // a ClientContext serves one call only
    grpc::Status s = stub.GetNamespace(read_ctx.get(), get, &current);
    if (!s.ok()) {
      return fail("namespaces update", s, o);
    }
    ns = current.namespace_();
  }
  const std::string rule = o.rule;
  if (rule.empty()) {
    // keep
  } else if (rule == "public") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_PUBLIC);
  } else if (rule == "authenticated") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_AUTHENTICATED);
  } else if (rule == "owner") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_OWNER);
  } else if (rule == "granted") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_GRANTED);
  } else if (rule == "hook") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_HOOK);
  } else {
    usageError("--rule must be public, authenticated, owner, granted or hook");
  }
  if (o.subscribe_hook) {
    ns.set_subscribe_hook(*o.subscribe_hook);
  } else if (!rule.empty() && rule != "hook") {
    ns.clear_subscribe_hook();  // only the hook rule has one
  }
  if (o.publish_hook) {
    ns.set_publish_hook(*o.publish_hook);
  }
  if (o.owner_claim) {
    ns.set_owner_claim(*o.owner_claim);
  } else if (!rule.empty() && rule != "owner") {
    ns.clear_owner_claim();  // only the owner rule has one
  }
  if (o.client_publish) {
    ns.set_allow_client_publish(*o.client_publish);
  }
  if (o.subscription_events) {
    ns.set_subscription_events(*o.subscription_events);
  }
  if (o.join_leave) {
    ns.set_join_leave(*o.join_leave);
  }
  if (o.history_size >= 0) {
    ns.set_history_size(static_cast<uint32_t>(o.history_size));
  }
  if (o.history_ttl >= 0) {
    ns.set_history_ttl_seconds(static_cast<uint32_t>(o.history_ttl));
  }
  if (o.conflate_ms >= 0) {
    ns.set_conflate_ms(static_cast<uint32_t>(o.conflate_ms));
  }
  if (o.smooth_ms >= 0) {
    ns.set_smooth_ms(static_cast<uint32_t>(o.smooth_ms));
  }
  if (o.max_subscribers >= 0) {
    ns.set_max_subscribers(static_cast<uint32_t>(o.max_subscribers));
  }
  if (!o.slow_consumer.empty()) {
    auto policy = parsePolicy(o.slow_consumer);
    if (!policy) {
      usageError("--slow-consumer must be drop, disconnect or inherit");
    }
    ns.set_slow_consumer_policy(*policy);
  }
  grpc::Status s;
  uint64_t version = 0;
  google::protobuf::Message* shown = nullptr;
  herald::v1::CreateNamespaceResponse created;
  herald::v1::UpdateNamespaceResponse updated;
  if (sub == "create") {
    herald::v1::CreateNamespaceRequest req;
    *req.mutable_namespace_() = ns;
    s = stub.CreateNamespace(&ctx, req, &created);
    version = created.config_version();
    shown = &created;
  } else {
    herald::v1::UpdateNamespaceRequest req;
    *req.mutable_namespace_() = ns;
    s = stub.UpdateNamespace(&ctx, req, &updated);
    version = updated.config_version();
    shown = &updated;
  }
  if (!s.ok()) {
    return fail("namespaces " + sub, s, o);
  }
  if (o.json) {
    std::cout << toJson(*shown);
  } else {
    std::printf("%s namespace '%s' (config version %llu, pushed to every node)\n",
                sub == "create" ? "created" : "updated", name.c_str(),
                static_cast<unsigned long long>(version));
  }
  return 0;
}

}  // namespace herald::ctl
