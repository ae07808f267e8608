#include "messages/error_code.hpp"

namespace jobwire {

std::string_view to_string(error_code x) {
  switch (x) {
    case error_code::invalid_json:
      return "invalid_json";
    case error_code::invalid_message:
      return "invalid_message";
    case error_code::unknown_type:
      return "unknown_type";
    case error_code::invalid_job_id:
      return "invalid_job_id";
    case error_code::job_not_found:
      return "job_not_found";
    case error_code::job_finished:
      return "job_finished";
    case error_code::unauthorized:
      return "unauthorized";
    case error_code::rate_limited:
      return "rate_limited";
    case error_code::too_many_subscriptions:
      return "too_many_subscriptions";
    case error_code::message_too_large:
      return "message_too_large";
    case error_code::connection_not_found:
      return "connection_not_found";
    case error_code::storage_full:
      return "storage_full";
    case error_code::internal:
      return "internal";
  }
  return "internal";
}

unsigned http_status(error_code x) {
  switch (x) {
    case error_code::invalid_json:
    case error_code::invalid_message:
    case error_code::unknown_type:
    case error_code::invalid_job_id:
      return 400;
    case error_code::unauthorized:
      return 401;
    case error_code::job_not_found:
    case error_code::connection_not_found:
      return 404;
    case error_code::job_finished:
      return 409;
    case error_code::message_too_large:
      return 413;
    case error_code::too_many_subscriptions:
    case error_code::rate_limited:
      return 429;
    case error_code::storage_full:
      return 507;
    case error_code::internal:
      return 500;
  }
  return 500;
}

std::string error_message(const caf::error& x) {
  // CAF 0.17 dereferences null for context() of an empty error.
  if (!x)
    return {};
  const auto& ctx = x.context();
  if (ctx.size() >= 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return {};
}

error_code to_error_code(const caf::error& x) {
  if (!x)
    return error_code::internal;
  if (x.category() == caf::atom("jobwire") && x.code() >= 1
      && x.code() <= static_cast<uint8_t>(error_code::internal))
    return static_cast<error_code>(x.code());
  return error_code::internal;
}

} // namespace jobwire
