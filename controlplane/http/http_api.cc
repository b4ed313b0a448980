#include "controlplane/http/http_api.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "controlplane/grpc_codes.h"

namespace herald::control {
namespace {

// Ordered: a publication's data keeps its members in the order the caller wrote them.
using Json = nlohmann::ordered_json;
using Stub = herald::v1::Control::Stub;

// In the HTTP API a publication's `data` is the JSON value itself ({"data": {"price": 1}});
// in the messages it is JSON text. These move between the two at the members that hold one:
// `data` at the top of a request and in its `publications`, and `publications[].data` in
// responses. Inputs were depth-checked (acceptJson), so dump() recurses at most 64 levels.
void dataValuesToText(Json& request) {
  auto convert = [](Json& holder) {
    if (holder.is_object()) {
      auto it = holder.find("data");
      if (it != holder.end()) {
        *it = it->dump(-1, ' ', false, Json::error_handler_t::replace);
      }
    }
  };
  convert(request);
  if (auto it = request.find("publications"); it != request.end() && it->is_array()) {
    for (auto& p : *it) {
      convert(p);
    }
  }
}

void dataTextToValues(Json& response) {
  auto it = response.find("publications");
  if (it == response.end() || !it->is_array()) {
    return;
  }
  for (auto& p : *it) {
    if (!p.is_object()) {
      continue;
    }
    auto data = p.find("data");
    if (data != p.end() && data->is_string()) {
      // Stored data was validated JSON when published; keep the text if it somehow is not.
      Json value = Json::parse(data->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (!value.is_discarded()) {
        *data = std::move(value);
      }
    }
  }
}

template <typename Request, typename Response,
          grpc::Status (Stub::*Method)(grpc::ClientContext*, const Request&, Response*)>
HttpReply invoke(Stub& stub, grpc::ClientContext& context, std::string_view json) {
  Request request;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
  if (auto s = google::protobuf::util::JsonStringToMessage(std::string(json), &request, parse);
      !s.ok()) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT,
                     "body does not match the request: " + std::string(s.message()));
  }
  Response response;
  const grpc::Status status = (stub.*Method)(&context, request, &response);
  if (!status.ok()) {
    return httpError(status.error_code(), status.error_message());
  }
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;  // a zero or false is an answer too
  print.preserve_proto_field_names = true;     // the same names as the proto and gRPC JSON
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(response, &text, print);
  Json out = Json::parse(text, nullptr, false);
  dataTextToValues(out);
  return HttpReply{200, out.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

}  // namespace

HttpReply httpError(grpc::StatusCode code, std::string_view message, int http_status) {
  const int status = http_status != 0 ? http_status : httpStatusFor(code);
  Json body = {{"error",
                {{"code", std::string(grpcCodeName(code))},
                 {"status", status},
                 {"message", std::string(message)}}}};
  return HttpReply{status, body.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

HttpApi::HttpApi(std::shared_ptr<grpc::ChannelInterface> channel)
    : stub_(herald::v1::Control::NewStub(std::move(channel))) {
  using namespace herald::v1;
  auto add = [this](const char* path, const char* rpc, bool allows_get, Invoke fn) {
    routes_.push_back(Route{path, rpc, allows_get});
    invokers_[rpc] = fn;
  };
  add("/api/publish", "Publish", false, &invoke<PublishRequest, PublishResponse, &Stub::Publish>);
  add("/api/publish_batch", "PublishBatch", false,
      &invoke<PublishBatchRequest, PublishBatchResponse, &Stub::PublishBatch>);
  add("/api/broadcast", "Broadcast", false,
      &invoke<BroadcastRequest, BroadcastResponse, &Stub::Broadcast>);
  add("/api/send_to_user", "SendToUser", false,
      &invoke<SendToUserRequest, SendToUserResponse, &Stub::SendToUser>);
  add("/api/disconnect", "Disconnect", false,
      &invoke<DisconnectRequest, DisconnectResponse, &Stub::Disconnect>);
  add("/api/history", "History", false, &invoke<HistoryRequest, HistoryResponse, &Stub::History>);
  add("/api/presence", "Presence", false,
      &invoke<PresenceRequest, PresenceResponse, &Stub::Presence>);
  add("/api/channels", "ListChannels", true,
      &invoke<ListChannelsRequest, ListChannelsResponse, &Stub::ListChannels>);
  add("/api/nodes", "ListNodes", true,
      &invoke<ListNodesRequest, ListNodesResponse, &Stub::ListNodes>);
  add("/api/namespaces", "ListNamespaces", true,
      &invoke<ListNamespacesRequest, ListNamespacesResponse, &Stub::ListNamespaces>);
  add("/api/stats", "ClusterStats", true,
      &invoke<ClusterStatsRequest, ClusterStatsResponse, &Stub::ClusterStats>);
  add("/api/info", "Info", true, &invoke<InfoRequest, InfoResponse, &Stub::Info>);
}

const HttpApi::Route* HttpApi::find(std::string_view path) const {
  for (const auto& route : routes_) {
    if (route.path == path) {
      return &route;
    }
  }
  return nullptr;
}

HttpReply HttpApi::call(const Route& route, std::string_view body,
                        const std::string& authorization) {
  std::string_view text = body.empty() ? std::string_view("{}") : body;
  if (!acceptJson(text)) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT,
                     "the body is not JSON, or is nested deeper than " +
                         std::to_string(kMaxJsonDepth) + " levels");
  }
  Json request = Json::parse(text, nullptr, false);
  if (!request.is_object()) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, "the body must be a JSON object");
  }
  dataValuesToText(request);
  grpc::ClientContext context;
  context.AddMetadata("authorization", authorization);
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return invokers_.at(route.rpc)(*stub_, context,
                                 request.dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace herald::control
