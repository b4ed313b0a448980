// ControlService: Control API keys.
#include "controlplane/control_service.h"

namespace herald::control {

grpc::Status ControlService::CreateApiKey(Ctx* ctx, const herald::v1::CreateApiKeyRequest* req,
                                          herald::v1::CreateApiKeyResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "CreateApiKey"); !denied.ok()) {
    return denied;
  }
  auto created = keys_.create(req->name(), req->role());
  if (!created.isOk()) {
    return toGrpc(created.status());
  }
  *resp->mutable_key() = created->key;
  resp->set_secret(created->secret);
  return grpc::Status::OK;
}

grpc::Status ControlService::ListApiKeys(Ctx* ctx, const herald::v1::ListApiKeysRequest*,
                                         herald::v1::ListApiKeysResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "ListApiKeys"); !denied.ok()) {
    return denied;
  }
  for (auto& key : keys_.list()) {
    *resp->add_keys() = std::move(key);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::RevokeApiKey(Ctx* ctx, const herald::v1::RevokeApiKeyRequest* req,
                                          herald::v1::RevokeApiKeyResponse*) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "RevokeApiKey"); !denied.ok()) {
    return denied;
  }
  return toGrpc(keys_.revoke(req->id()));
}

}  // namespace herald::control
