#pragma once

#include <gmock/gmock.h>

#include "dataplane/link/control_uplink.h"

namespace herald::node {

class MockControlUplink : public ControlUplink {
 public:
  MOCK_METHOD(bool, recover, (const herald::v1::RecoverRequest& request), (override));
  MOCK_METHOD(bool, publish, (const herald::v1::ClientPublish& request), (override));
};

}  // namespace herald::node
