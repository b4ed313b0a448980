// ControlService: namespaces, limits and auth settings.
#include "controlplane/control_service.h"

#include "controlplane/control_service_util.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
grpc::Status ControlService::CreateNamespace(Ctx* ctx,
                                             const herald::v1::CreateNamespaceRequest* req,
                                             herald::v1::CreateNamespaceResponse* resp) {
  return guarded(ctx, Need::kAdmin, "CreateNamespace", [&]() -> Status {
    auto result = store_.createNamespace(req->namespace_());
    if (!result.isOk()) {
      return result.status();
    }
    *resp->mutable_namespace_() = result.value();
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

grpc::Status ControlService::GetNamespace(Ctx* ctx, const herald::v1::GetNamespaceRequest* req,
                                          herald::v1::GetNamespaceResponse* resp) {
  return guarded(ctx, Need::kReader, "GetNamespace", [&]() -> Status {
    auto result = store_.getNamespace(req->name());
    if (!result.isOk()) {
      return result.status();
    }
    *resp->mutable_namespace_() = result.value();
    return Status::ok();
  });
}

grpc::Status ControlService::UpdateNamespace(Ctx* ctx,
                                             const herald::v1::UpdateNamespaceRequest* req,
                                             herald::v1::UpdateNamespaceResponse* resp) {
  return guarded(ctx, Need::kAdmin, "UpdateNamespace", [&]() -> Status {
    auto result = store_.updateNamespace(req->namespace_());
    if (!result.isOk()) {
      return result.status();
    }
    *resp->mutable_namespace_() = result.value();
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

grpc::Status ControlService::DeleteNamespace(Ctx* ctx,
                                             const herald::v1::DeleteNamespaceRequest* req,
                                             herald::v1::DeleteNamespaceResponse* resp) {
  return guarded(ctx, Need::kAdmin, "DeleteNamespace", [&]() -> Status {
    Status s = store_.deleteNamespace(req->name());
    if (!s.isOk()) {
      return s;
    }
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

grpc::Status ControlService::ListNamespaces(Ctx* ctx, const herald::v1::ListNamespacesRequest* req,
                                            herald::v1::ListNamespacesResponse* resp) {
  return guarded(ctx, Need::kReader, "ListNamespaces", [&]() -> Status {
    if (!paging::pageTokenValid(req->page_token())) {
      return Status(ErrorCode::kBadRequest, "page_token was not returned by this RPC");
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
    return Status::ok();
  });
}

grpc::Status ControlService::GetLimits(Ctx* ctx, const herald::v1::GetLimitsRequest*,
                                       herald::v1::GetLimitsResponse* resp) {
  return guarded(ctx, Need::kReader, "GetLimits", [&]() -> Status {
    *resp->mutable_limits() = store_.limits();
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

grpc::Status ControlService::SetLimits(Ctx* ctx, const herald::v1::SetLimitsRequest* req,
                                       herald::v1::SetLimitsResponse* resp) {
  return guarded(ctx, Need::kAdmin, "SetLimits", [&]() -> Status {
    auto result = store_.setLimits(req->limits());
    if (!result.isOk()) {
      return result.status();
    }
    *resp->mutable_limits() = result.value();
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

grpc::Status ControlService::GetAuthSettings(Ctx* ctx, const herald::v1::GetAuthSettingsRequest*,
                                             herald::v1::GetAuthSettingsResponse* resp) {
  return guarded(ctx, Need::kAdmin, "GetAuthSettings", [&]() -> Status {
    *resp->mutable_auth() = redactAuthSettings(store_.auth());
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

grpc::Status ControlService::SetAuthSettings(Ctx* ctx,
                                             const herald::v1::SetAuthSettingsRequest* req,
                                             herald::v1::SetAuthSettingsResponse* resp) {
  return guarded(ctx, Need::kAdmin, "SetAuthSettings", [&]() -> Status {
    auto result = store_.setAuth(req->auth());
    if (!result.isOk()) {
      return result.status();
    }
    *resp->mutable_auth() = redactAuthSettings(result.value());
    resp->set_config_version(store_.version());
    return Status::ok();
  });
}

}  // namespace herald::control
