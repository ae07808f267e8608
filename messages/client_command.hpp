#pragma once

#include <cstdint>
#include <string>

#include "caf/meta/type_name.hpp"

#include "messages/error_code.hpp"
#include "messages/request_tag.hpp"

namespace jobwire {

/// The commands a WebSocket client sends (PROTOCOL.md, "Client to server").
enum class command_type : uint8_t {
  subscribe = 0,
  unsubscribe,
  cancel_job,
  request_status,
  resume,
  ping,
  /// Not a client command: the frame could not be parsed; `error` says why.
  invalid,
};

/// One parsed client command, or the reason it could not be parsed.
struct client_command {
  command_type type = command_type::invalid;
  std::string job_id;
  request_tag request_id;
  bool has_since_seq = false;
  uint64_t since_seq = 0;
  std::string reason;
  std::string connection_id;
  /// A token for this command alone (subscribe, cancel_job), when access
  /// control is on.
  std::string token;
  /// Set when `type` is `invalid`.
  jobwire::error_code error = error_code::internal;
  /// A sentence naming the field at fault, when `type` is `invalid`.
  std::string error_message;
};

} // namespace jobwire

namespace jobwire {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_command& x) {
  return f(caf::meta::type_name("client_command"), x.type, x.job_id,
           x.request_id, x.has_since_seq, x.since_seq, x.reason,
           x.connection_id, x.token, x.error, x.error_message);
}

} // namespace jobwire
