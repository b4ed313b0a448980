// heraldctl: the admin's and script's view of the Control API. The commands are in cli/ctl/.
#include <map>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cli/ctl/commands.h"
#include "cli/ctl/options.h"
#include "herald/v1/control.grpc.pb.h"

int main(int argc, char** argv) {
  using namespace herald::ctl;
  static const std::map<std::string, int (*)(Stub&, grpc::ClientContext&, const Options&)>
      kCommands = {{"demo-feed", demoFeedCommand},
                   {"publish", publishCommand},
                   {"broadcast", broadcastCommand},
                   {"nodes", nodesCommand},
                   {"stats", statsCommand},
                   {"top", topCommand},
                   {"channels", channelsCommand},
                   {"send-to-user", sendToUserCommand},
                   {"history", historyCommand},
                   {"presence", presenceCommand},
                   {"info", infoCommand},
                   {"namespaces", namespacesCommand},
                   {"limits", limitsCommand},
                   {"keys", keysCommand},
                   {"subscribe", subscribeCommand},
                   {"unsubscribe", unsubscribeCommand},
                   {"refresh", refreshCommand},
                   {"disconnect", disconnectCommand},
                   {"revoke-token", revokeTokenCommand}};
  const Options o = parseArgs(argc, argv);
  auto channel = grpc::CreateChannel(o.control, channelCredentials(o));
  auto stub = herald::v1::Control::NewStub(channel);
  auto ctx = newContext(o);
  const std::string& cmd = o.args[0];
  auto it = kCommands.find(cmd);
  if (it == kCommands.end()) {
    usageError("unknown command '" + cmd + "'");
  }
  return it->second(*stub, *ctx, o);
}
