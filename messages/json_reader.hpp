#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace jobwire {

/// Parses and fully validates `text` with the calling thread's simdjson DOM
/// parser. Unlike a bare `dom::parser`, it accepts numbers that are valid JSON
/// but out of range for 64-bit integers and doubles (e.g.
/// `12345678901234567890123`); such a number reads back as an empty array, so
/// no field that expects a number accepts it. `out` stays valid until the next
/// call on the same thread.
simdjson::error_code parse_json(std::string_view text,
                                simdjson::dom::element& out);

/// Stores in `out` the text of the first top-level member `key` of the JSON
/// object `text`, minified but otherwise unchanged, when that member is an
/// object. Returns false otherwise. Expects `text` to have passed
/// `parse_json`.
bool find_raw_object(std::string_view text, std::string_view key,
                     std::string& out);

/// The top-level `timestamp` of a stored event, in Unix milliseconds;
/// nothing when it has none that parses.
std::optional<int64_t> event_time_ms(std::string_view event_json);

/// Whether `x` is exactly one number as RFC 8259 spells it.
bool is_json_number(std::string_view x);

} // namespace jobwire
