// ControlService: namespaces, limits and auth settings.
#include "controlplane/control_service.h"

#include "controlplane/control_service_util.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
namespace {

using grpc::StatusCode;

}  // namespace

grpc::Status ControlService::CreateNamespace(Ctx* ctx,
                                             const herald::v1::CreateNamespaceRequest* req,
                                             herald::v1::CreateNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "CreateNamespace"); !denied.ok()) {
    return denied;
  }
  auto result = store_.createNamespace(req->namespace_());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_namespace_() = result.value();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetNamespace(Ctx* ctx, const herald::v1::GetNamespaceRequest* req,
                                          herald::v1::GetNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "GetNamespace"); !denied.ok()) {
    return denied;
  }
  auto result = store_.getNamespace(req->name());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_namespace_() = result.value();
  return grpc::Status::OK;
}

grpc::Status ControlService::UpdateNamespace(Ctx* ctx,
                                             const herald::v1::UpdateNamespaceRequest* req,
                                             herald::v1::UpdateNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "UpdateNamespace"); !denied.ok()) {
    return denied;
  }
  auto result = store_.updateNamespace(req->namespace_());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_namespace_() = result.value();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::DeleteNamespace(Ctx* ctx,
                                             const herald::v1::DeleteNamespaceRequest* req,
                                             herald::v1::DeleteNamespaceResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "DeleteNamespace"); !denied.ok()) {
    return denied;
  }
  Status s = store_.deleteNamespace(req->name());
  if (!s.isOk()) {
    return toGrpc(s);
  }
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::ListNamespaces(Ctx* ctx, const herald::v1::ListNamespacesRequest* req,
                                            herald::v1::ListNamespacesResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "ListNamespaces"); !denied.ok()) {
    return denied;
  }
  if (!paging::pageTokenValid(req->page_token())) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT, "page_token was not returned by this RPC");
  }
  const uint32_t limit = paging::pageSize(req->page_size());
  for (const auto& ns : store_.listNamespaces()) {  // sorted by name
    if (paging::beforeToken(ns.name(), req->page_token())) {
      continue;
    }
    if (static_cast<uint32_t>(resp->namespaces_size()) == limit) {
      resp->set_next_page_token(
          paging::tokenAfter(resp->namespaces(resp->namespaces_size() - 1).name()));
      break;
    }
    *resp->add_namespaces() = ns;
  }
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetLimits(Ctx* ctx, const herald::v1::GetLimitsRequest*,
                                       herald::v1::GetLimitsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kReader, "GetLimits"); !denied.ok()) {
    return denied;
  }
  *resp->mutable_limits() = store_.limits();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::SetLimits(Ctx* ctx, const herald::v1::SetLimitsRequest* req,
                                       herald::v1::SetLimitsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "SetLimits"); !denied.ok()) {
    return denied;
  }
  auto result = store_.setLimits(req->limits());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_limits() = result.value();
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetAuthSettings(Ctx* ctx, const herald::v1::GetAuthSettingsRequest*,
                                             herald::v1::GetAuthSettingsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "GetAuthSettings"); !denied.ok()) {
    return denied;
  }
  *resp->mutable_auth() = redactAuthSettings(store_.auth());
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

grpc::Status ControlService::SetAuthSettings(Ctx* ctx,
                                             const herald::v1::SetAuthSettingsRequest* req,
                                             herald::v1::SetAuthSettingsResponse* resp) {
  auto guard = track();
  if (auto denied = authorize(ctx, Need::kAdmin, "SetAuthSettings"); !denied.ok()) {
    return denied;
  }
  auto result = store_.setAuth(req->auth());
  if (!result.isOk()) {
    return toGrpc(result.status());
  }
  *resp->mutable_auth() = redactAuthSettings(result.value());
  resp->set_config_version(store_.version());
  return grpc::Status::OK;
}

}  // namespace herald::control
