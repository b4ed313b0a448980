#pragma once

#include <gmock/gmock.h>

#include "dataplane/transport/client_transport.h"

namespace herald::node {

class MockClientTransport : public ClientTransport {
 public:
  MOCK_METHOD(bool, isOpen, (), (const, override));
  MOCK_METHOD(size_t, bufferedBytes, (), (const, override));
  MOCK_METHOD(size_t, writeFrame, (const FramePtr& frame), (override));
  MOCK_METHOD(size_t, writeText, (const std::string& text), (override));
  MOCK_METHOD(void, closeWith, (uint16_t code, const std::string& reason), (override));
  MOCK_METHOD(void, sendPing, (), (override));
  MOCK_METHOD(void, setInboundLimit, (size_t bytes), (override));
  MOCK_METHOD(const std::string&, requestTarget, (), (const, override));
  MOCK_METHOD(std::string, requestHeader, (const std::string&), (const, override));
};

}  // namespace herald::node
