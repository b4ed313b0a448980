// heraldctl keys: list, create and revoke Control API keys.
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/table.h"

namespace herald::ctl {

int keysCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const std::string sub = o.args.size() > 1 ? o.args[1] : "list";
  if (sub == "list") {
    herald::v1::ListApiKeysResponse resp;
    grpc::Status s = stub.ListApiKeys(&ctx, herald::v1::ListApiKeysRequest(), &resp);
    if (!s.ok()) {
      return fail("keys list", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    herald::cli::Table t({"ID", "ROLE", "NAME", "CREATED (unix ms)"});
    for (const auto& k : resp.keys()) {
      const char* role = k.role() == herald::v1::API_KEY_ROLE_ADMIN       ? "admin"
                         : k.role() == herald::v1::API_KEY_ROLE_PUBLISHER ? "publisher"
                                                                          : "reader";
      t.add({k.id(), role, k.name().empty() ? "-" : k.name(), std::to_string(k.created_unix_ms())});
    }
    t.print(stdout);
    return 0;
  }
  if (sub == "revoke") {
    if (o.args.size() != 3) {
      usageError("keys revoke needs the key ID (see `heraldctl keys list`)");
    }
    herald::v1::RevokeApiKeyRequest req;
    req.set_id(o.args[2]);
    herald::v1::RevokeApiKeyResponse resp;
    grpc::Status s = stub.RevokeApiKey(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("keys revoke", s, o);
    }
    std::printf("revoked key %s\n", o.args[2].c_str());
    return 0;
  }
  if (sub != "create") {
    usageError("keys: unknown subcommand '" + sub + "'");
  }
  herald::v1::CreateApiKeyRequest req;
  if (o.role == "admin") {
    req.set_role(herald::v1::API_KEY_ROLE_ADMIN);
  } else if (o.role == "publisher") {
    req.set_role(herald::v1::API_KEY_ROLE_PUBLISHER);
  } else if (o.role == "reader") {
    req.set_role(herald::v1::API_KEY_ROLE_READER);
  } else {
    usageError("keys create needs --role admin, publisher or reader");
  }
  req.set_name(o.name);
  herald::v1::CreateApiKeyResponse resp;
  grpc::Status s = stub.CreateApiKey(&ctx, req, &resp);
  if (!s.ok()) {
    return fail("keys create", s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("created %s key %s; the key (shown only now):\n%s\n", o.role.c_str(),
                resp.key().id().c_str(), resp.secret().c_str());
  }
  return 0;
}

}  // namespace herald::ctl
