#include "pipeline/error_text.hpp"

#include "caf/atom.hpp"
#include "caf/error.hpp"
#include "caf/exit_reason.hpp"
#include "caf/sec.hpp"

#include "messages/error_code.hpp"

namespace jobwire::pipeline {

namespace {

// CAF's context for system errors: its leading text when it has one (e.g.
// "ip_connect failed"), else all of it.
std::string context_text(const caf::error& x) {
  const auto& ctx = x.context();
  if (ctx.empty())
    return {};
  if (ctx.match_element<std::string>(0))
    return ": " + ctx.get_as<std::string>(0);
  return " " + caf::to_string(ctx);
}

} // namespace

std::string error_text(const caf::error& x) {
  if (!x)
    return "no error";
  if (x.category() == caf::atom("jobwire")) {
    std::string result{to_string(to_error_code(x))};
    auto msg = error_message(x);
    if (!msg.empty()) {
      result += ": ";
      result += msg;
    }
    return result;
  }
  std::string result;
  if (x.category() == caf::atom("system"))
    result = caf::to_string(static_cast<caf::sec>(x.code()));
  else if (x.category() == caf::atom("exit"))
    result = caf::to_string(static_cast<caf::exit_reason>(x.code()));
  else
    return caf::to_string(x);
  return result + context_text(x);
}

bool is_transient(const caf::error& x) {
  if (!x)
    return false;
  if (x.category() == caf::atom("jobwire"))
    return to_error_code(x) == error_code::rate_limited;
  // Any exit reason: the ingest actor or the connection to it went away.
  if (x.category() == caf::atom("exit"))
    return true;
  if (x.category() != caf::atom("system"))
    return false;
  switch (static_cast<caf::sec>(x.code())) {
    case caf::sec::request_timeout:
    case caf::sec::request_receiver_down:
    case caf::sec::no_route_to_receiving_node:
    case caf::sec::cannot_connect_to_node:
    case caf::sec::disconnect_during_handshake:
    case caf::sec::cannot_forward_to_invalid_actor:
    case caf::sec::socket_disconnected:
    case caf::sec::connection_timeout:
    case caf::sec::remote_lookup_failed:
    case caf::sec::network_syscall_failed:
      return true;
    default:
      return false;
  }
}

} // namespace jobwire::pipeline
