#include "messages/cancel_request.hpp"

#include "messages/error_code.hpp"
#include "messages/json_reader.hpp"

namespace jobwire {

caf::expected<std::string> parse_cancel_request(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return std::string{};
  simdjson::dom::element doc;
  if (parse_json(body, doc))
    return caf::make_error(error_code::invalid_json,
                           std::string{"the body is not valid JSON"});
  simdjson::dom::object obj;
  if (doc.get_object().get(obj))
    return caf::make_error(error_code::invalid_message,
                           std::string{"the body must be a JSON object"});
  simdjson::dom::element reason;
  if (obj["reason"].get(reason))
    return std::string{};
  std::string_view text;
  if (reason.get_string().get(text))
    return caf::make_error(error_code::invalid_message,
                           std::string{"field 'reason' must be a string"});
  return std::string{text};
}

} // namespace jobwire
