// libFuzzer target: one WebSocket text frame through jobwire::parse_command.
// parse_command must never throw, crash or trip a sanitizer, and an invalid
// frame must always come back with a reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "messages/json_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto cmd = jobwire::parse_command(text);
  if (cmd.type == jobwire::command_type::invalid && cmd.error_message.empty())
    std::abort(); // an error frame must name the fault
  return 0;
}
