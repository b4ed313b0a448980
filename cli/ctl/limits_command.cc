// heraldctl limits: get, and set NAME=VALUE (read, change some fields, write back).
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/table.h"
#include "common/strings.h"

namespace herald::ctl {

int limitsCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const std::string sub = o.args.size() > 1 ? o.args[1] : "get";
  herald::v1::GetLimitsResponse current;
  grpc::Status s = stub.GetLimits(&ctx, herald::v1::GetLimitsRequest(), &current);
  if (!s.ok()) {
    return fail("limits get", s, o);
  }
  const auto* descriptor = herald::v1::Limits::descriptor();
  const auto* reflection = herald::v1::Limits::GetReflection();
  if (sub == "get") {
    if (o.json) {
      std::cout << toJson(current);
      return 0;
    }
    herald::cli::Table t({"LIMIT", "VALUE"});
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const auto* field = descriptor->field(i);
      std::string value;
      if (field->is_repeated()) {
        for (int j = 0; j < reflection->FieldSize(current.limits(), field); ++j) {
          value += (j ? "," : "") + reflection->GetRepeatedString(current.limits(), field, j);
        }
        value = value.empty() ? "(any)" : value;
      } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_ENUM) {
        value = policyName(static_cast<herald::v1::SlowConsumerPolicy>(
            reflection->GetEnumValue(current.limits(), field)));
      } else {
        value = std::to_string(reflection->GetUInt32(current.limits(), field));
      }
      t.add({field->name(), value});
    }
    t.print(stdout);
    std::printf("config version %llu\n", static_cast<unsigned long long>(current.config_version()));
    return 0;
  }
  if (sub != "set" || o.args.size() < 3) {
    usageError(
        "limits set NAME=VALUE [NAME=VALUE...], e.g. limits set "
        "max_subscriptions_per_connection=100");
  }
  herald::v1::Limits limits = current.limits();
  for (size_t i = 2; i < o.args.size(); ++i) {
    const std::string& kv = o.args[i];
    const size_t eq = kv.find('=');
    const auto* field =
        eq == std::string::npos ? nullptr : descriptor->FindFieldByName(kv.substr(0, eq));
    if (field == nullptr) {
      usageError("unknown limit in '" + kv + "' (see `heraldctl limits get`)");
    }
    const std::string value = kv.substr(eq + 1);
    if (field->is_repeated()) {
      reflection->ClearField(&limits, field);
      for (const auto& item : herald::splitNonEmpty(value, ',')) {
        reflection->AddString(&limits, field, item);
      }
    } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_ENUM) {
      auto policy = parsePolicy(value);
      if (!policy || *policy == herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED) {
        usageError(field->name() + " must be drop or disconnect");
      }
      reflection->SetEnumValue(&limits, field, *policy);
    } else {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos ||
          value.size() > 9) {
        usageError(field->name() + " needs a non-negative number");
      }
      reflection->SetUInt32(&limits, field, static_cast<uint32_t>(std::stoul(value)));
    }
  }
  auto set_ctx = newContext(o);
  herald::v1::SetLimitsRequest req;
  *req.mutable_limits() = limits;
  herald::v1::SetLimitsResponse resp;
  s = stub.SetLimits(set_ctx.get(), req, &resp);
  if (!s.ok()) {
    return fail("limits set", s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("limits updated (config version %llu, pushed to every node)\n",
                static_cast<unsigned long long>(resp.config_version()));
  }
  return 0;
}

}  // namespace herald::ctl
