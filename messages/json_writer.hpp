#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace jobwire {

/// Appends `x` to `out` as the inside of a JSON string: quotes, backslashes and
/// control characters escaped; valid UTF-8 passes through, except U+2028 and
/// U+2029, which are escaped so the text is also safe inside JavaScript.
void append_escaped(std::string& out, std::string_view x);

/// Builds one flat JSON object with fields in insertion order. Callers keep
/// field names to plain ASCII literals.
class json_writer {
public:
  json_writer();

  json_writer& field(std::string_view key, std::string_view value);
  json_writer& field(std::string_view key, const char* value) {
    return field(key, std::string_view{value});
  }
  json_writer& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view{value});
  }
  json_writer& field(std::string_view key, uint64_t value);
  json_writer& field(std::string_view key, int64_t value);
  json_writer& field(std::string_view key, int value) {
    return field(key, static_cast<int64_t>(value));
  }
  json_writer& field(std::string_view key, unsigned value) {
    return field(key, static_cast<uint64_t>(value));
  }
  json_writer& field(std::string_view key, double value);
  json_writer& field(std::string_view key, bool value);
  json_writer& null_field(std::string_view key);
  /// `json` must already be valid JSON.
  json_writer& raw_field(std::string_view key, std::string_view json);

  /// Closes the object and hands out the text; the writer is spent.
  std::string finish();

private:
  void key(std::string_view k);

  std::string out_;
};

/// Formats a double the shortest way that reads back exactly ("50", "12.5").
void append_number(std::string& out, double x);

} // namespace jobwire
