#include "controlplane/http/http_api.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/json_text.h"
#include "common/secret_file.h"
#include "controlplane/grpc_codes.h"

namespace herald::control {

struct HttpRequestText {
  std::string json;                    // the body with each `data` value replaced by ""
  std::vector<std::string_view> data;  // the values cut out (empty view: no `data` there)
};

namespace {

using Json = nlohmann::json;
using Stub = herald::v1::Control::Stub;

// In the HTTP API a publication's `data` is the JSON value itself ({"data": {"price": 1}});
// in the messages it is JSON text. The value's text is moved as is, never parsed and printed
// again (that would turn 123456789012345678901234567890 into 1.2345678901234568e+29): in a
// request, each `data` value is cut out of the body (replaced by "" for the protobuf parser)
// and set on the message afterwards; in a response, spliced in where `"data":""` was printed.
HttpRequestText cutDataValues(std::string_view body, bool batch) {
  HttpRequestText out;
  std::vector<std::string_view> cuts;
  static constexpr std::string_view kData[] = {"data"};
  if (!batch) {
    std::string_view value;
    findMembers(body, kData, 1, &value);
    out.data.push_back(value);
    cuts.push_back(value);
  } else {
    static constexpr std::string_view kPublications[] = {"publications"};
    std::string_view list;
    findMembers(body, kPublications, 1, &list);
    std::vector<std::string_view> elements;
    if (!list.empty() && arrayElements(list, &elements)) {
      for (std::string_view element : elements) {
        std::string_view value;
        findMembers(element, kData, 1, &value);
        out.data.push_back(value);
        cuts.push_back(value);
      }
    }
  }
  size_t at = 0;
  for (std::string_view cut : cuts) {
    if (cut.empty()) {
      continue;
    }
    const size_t begin = static_cast<size_t>(cut.data() - body.data());
    out.json.append(body.substr(at, begin - at));
    out.json.append("\"\"");
    at = begin + cut.size();
  }
  out.json.append(body.substr(at));
  return out;
}

// Puts the cut-out values back on the message (routes without `data` ignore them).
template <typename Request>
void restoreData(Request&, const std::vector<std::string_view>&) {}
template <typename Request>
void restoreOne(Request& request, const std::vector<std::string_view>& data) {
  if (!data.empty() && !data[0].empty()) {
    request.set_data(std::string(data[0]));
  }
}
void restoreData(herald::v1::PublishRequest& r, const std::vector<std::string_view>& d) {
  restoreOne(r, d);
}
void restoreData(herald::v1::BroadcastRequest& r, const std::vector<std::string_view>& d) {
  restoreOne(r, d);
}
void restoreData(herald::v1::SendToUserRequest& r, const std::vector<std::string_view>& d) {
  restoreOne(r, d);
}
void restoreData(herald::v1::PublishBatchRequest& r, const std::vector<std::string_view>& d) {
  for (int i = 0; i < r.publications_size() && static_cast<size_t>(i) < d.size(); ++i) {
    if (!d[i].empty()) {
      r.mutable_publications(i)->set_data(std::string(d[i]));
    }
  }
}

// The publications' data taken out of a response before it is printed (HistoryResponse
// only), each replaced by a placeholder with a random part: a publisher's own strings (tags,
// event) cannot forge one, so each placeholder found is a publication's own `data`.
struct TakenData {
  std::vector<std::string> data;
  std::string marker;  // placeholder i is marker + i
};
template <typename Response>
TakenData takeData(Response&) {
  return {};
}
TakenData takeData(herald::v1::HistoryResponse& r) {
  TakenData taken;
  taken.marker = "herald-data-" + randomHex(16) + "-";
  for (auto& p : *r.mutable_publications()) {
    p.mutable_data()->swap(taken.data.emplace_back());
    p.set_data(taken.marker + std::to_string(taken.data.size() - 1));
  }
  return taken;
}

// Puts each publication's data back, verbatim, where its placeholder was printed (in order).
std::string spliceData(const std::string& printed, const TakenData& taken) {
  std::string out;
  size_t at = 0;
  for (size_t i = 0; i < taken.data.size(); ++i) {
    const std::string placeholder = "\"data\":\"" + taken.marker + std::to_string(i) + "\"";
    const size_t found = printed.find(placeholder, at);
    if (found == std::string::npos) {
      break;
    }
    out.append(printed, at, found - at);
    out.append("\"data\":");
    out.append(taken.data[i].empty() ? "\"\"" : taken.data[i]);
    at = found + placeholder.size();
  }
  out.append(printed, at, std::string::npos);
  return out;
}

template <typename Request, typename Response,
          grpc::Status (Stub::*Method)(grpc::ClientContext*, const Request&, Response*)>
HttpReply invoke(Stub& stub, grpc::ClientContext& context, const HttpRequestText& text) {
  Request request;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
  if (auto s = google::protobuf::util::JsonStringToMessage(text.json, &request, parse); !s.ok()) {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT,
                     "body does not match the request: " + std::string(s.message()));
  }
  restoreData(request, text.data);
  Response response;
  const grpc::Status status = (stub.*Method)(&context, request, &response);
  if (!status.ok()) {
    return httpError(status.error_code(), status.error_message());
  }
  const TakenData taken = takeData(response);
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;  // a zero or false is an answer too
  print.preserve_proto_field_names = true;     // the same names as the proto and gRPC JSON
  std::string printed;
  if (!google::protobuf::util::MessageToJsonString(response, &printed, print).ok()) {
    return httpError(grpc::StatusCode::INTERNAL, "the answer could not be printed as JSON");
  }
  return HttpReply{200, taken.data.empty() ? std::move(printed) : spliceData(printed, taken)};
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
    // Reads need a reader key, the rest a publisher key (admin keys may call everything).
    const bool read =
        allows_get || std::string_view(rpc) == "History" || std::string_view(rpc) == "Presence";
    routes_.push_back(
        Route{path, rpc, allows_get,
              read ? herald::v1::API_KEY_ROLE_READER : herald::v1::API_KEY_ROLE_PUBLISHER});
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
  add("/api/subscribe", "Subscribe", false,
      &invoke<SubscribeRequest, SubscribeResponse, &Stub::Subscribe>);
  add("/api/unsubscribe", "Unsubscribe", false,
      &invoke<UnsubscribeRequest, UnsubscribeResponse, &Stub::Unsubscribe>);
  add("/api/refresh", "Refresh", false, &invoke<RefreshRequest, RefreshResponse, &Stub::Refresh>);
  add("/api/revoke_token", "RevokeToken", false,
      &invoke<RevokeTokenRequest, RevokeTokenResponse, &Stub::RevokeToken>);
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
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') {
    return httpError(grpc::StatusCode::INVALID_ARGUMENT, "the body must be a JSON object");
  }
  const HttpRequestText request = cutDataValues(text, route.rpc == "PublishBatch");
  grpc::ClientContext context;
  context.AddMetadata("authorization", authorization);
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return invokers_.at(route.rpc)(*stub_, context, request);
}

}  // namespace herald::control
