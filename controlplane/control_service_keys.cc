// ControlService: Control API keys.
#include "controlplane/control_service.h"

namespace herald::control {

grpc::Status ControlService::CreateApiKey(Ctx* ctx, const herald::v1::CreateApiKeyRequest* req,
                                          herald::v1::CreateApiKeyResponse* resp) {
  return guarded(ctx, Need::kAdmin, "CreateApiKey", [&]() -> Status {
    auto created = keys_.create(req->name(), req->role());
    if (!created.isOk()) {
      return created.status();
    }
    *resp->mutable_key() = created->key;
    resp->set_secret(created->secret);
    return Status::ok();
  });
}

grpc::Status ControlService::ListApiKeys(Ctx* ctx, const herald::v1::ListApiKeysRequest*,
                                         herald::v1::ListApiKeysResponse* resp) {
  return guarded(ctx, Need::kAdmin, "ListApiKeys", [&]() -> Status {
    for (auto& key : keys_.list()) {
      *resp->add_keys() = std::move(key);
    }
    return Status::ok();
  });
}

grpc::Status ControlService::RevokeApiKey(Ctx* ctx, const herald::v1::RevokeApiKeyRequest* req,
                                          herald::v1::RevokeApiKeyResponse*) {
  return guarded(ctx, Need::kAdmin, "RevokeApiKey",
                 [&]() -> Status { return keys_.revoke(req->id()); });
}

}  // namespace herald::control
