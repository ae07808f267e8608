#include "messages/json_reader.hpp"

#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_number_char(char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e'
         || c == 'E';
}

simdjson::dom::parser& dom_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

simdjson::ondemand::parser& ondemand_parser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

// Copies `text` with each valid number that simdjson cannot represent
// replaced by `[]` and blanks of the same length. Returns false when a number
// breaks the RFC 8259 grammar or none needed replacing.
bool mask_out_of_range(std::string_view text, std::string& masked) {
  auto& parser = dom_parser();
  masked.assign(text.data(), text.size());
  auto n = masked.size();
  auto changed = false;
  size_t i = 0;
  while (i < n) {
    auto c = masked[i];
    if (c == '"') {
      // Skip the string, escapes included.
      for (++i; i < n && masked[i] != '"'; ++i)
        if (masked[i] == '\\')
          ++i;
      ++i;
      continue;
    }
    if (c != '-' && !is_digit(c)) {
      ++i;
      continue;
    }
    auto j = i;
    while (j < n && is_number_char(masked[j]))
      ++j;
    auto token = std::string_view{masked}.substr(i, j - i);
    if (!is_json_number(token))
      return false;
    simdjson::dom::element tmp;
    if (parser.parse(token.data(), token.size()).get(tmp)
        != simdjson::SUCCESS) {
      // Out-of-range numbers have at least five characters ("1e999").
      if (token.size() < 2)
        return false;
      masked[i] = '[';
      masked[i + 1] = ']';
      for (auto k = i + 2; k < j; ++k)
        masked[k] = ' ';
      changed = true;
    }
    i = j;
  }
  return changed;
}

} // namespace

simdjson::error_code parse_json(std::string_view text,
                                simdjson::dom::element& out) {
  auto& parser = dom_parser();
  auto err = parser.parse(text.data(), text.size()).get(out);
  if (err != simdjson::NUMBER_ERROR)
    return err;
  // Valid JSON may still hold numbers beyond 64 bits; mask them and retry.
  std::string masked;
  if (!mask_out_of_range(text, masked))
    return err;
  return parser.parse(masked).get(out);
}

bool find_raw_object(std::string_view text, std::string_view key,
                     std::string& out) {
  simdjson::padded_string padded{text};
  simdjson::ondemand::document doc;
  if (ondemand_parser().iterate(padded).get(doc) != simdjson::SUCCESS)
    return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS)
    return false;
  for (auto field : obj) {
    std::string_view name;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS)
      return false;
    if (name != key)
      continue;
    // The first match wins, as with `dom::object::at_key`.
    simdjson::ondemand::object value;
    if (field.value().get_object().get(value) != simdjson::SUCCESS)
      return false;
    std::string_view raw;
    if (value.raw_json().get(raw) != simdjson::SUCCESS)
      return false;
    out.resize(raw.size());
    size_t len = 0;
    if (simdjson::minify(raw.data(), raw.size(), out.data(), len)
        != simdjson::SUCCESS)
      return false;
    out.resize(len);
    return true;
  }
  return false;
}

std::optional<int64_t> event_time_ms(std::string_view event_json) {
  simdjson::dom::element doc;
  std::string_view text;
  if (parse_json(event_json, doc) != simdjson::SUCCESS
      || doc["timestamp"].get(text) != simdjson::SUCCESS)
    return std::nullopt;
  return parse_timestamp(text);
}

bool is_json_number(std::string_view x) {
  size_t i = 0;
  auto n = x.size();
  auto digits = [&] {
    auto start = i;
    while (i < n && is_digit(x[i]))
      ++i;
    return i > start;
  };
  if (i < n && x[i] == '-')
    ++i;
  if (i < n && x[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < n && x[i] == '.') {
    ++i;
    if (!digits())
      return false;
  }
  if (i < n && (x[i] == 'e' || x[i] == 'E')) {
    ++i;
    if (i < n && (x[i] == '+' || x[i] == '-'))
      ++i;
    if (!digits())
      return false;
  }
  return i == n;
}

} // namespace jobwire
