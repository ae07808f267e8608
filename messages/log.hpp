#pragma once

#include <initializer_list>
#include <string_view>

#include <spdlog/common.h>

namespace jobwire::log {

/// One `"key":"value"` pair of a log line; the value is escaped.
struct field {
  std::string_view key;
  std::string_view value;
};

/// Sets up the process-wide logger: one JSON object per line on stderr.
/// Returns false when `level` is not one of trace, debug, info, warn, error,
/// critical, off.
bool init(std::string_view level);

/// Whether a line at `lvl` would be written.
bool enabled(spdlog::level::level_enum lvl);

/// Writes `{"ts":..,"level":..,"msg":..,fields..}`. Text from clients may go
/// into `msg` and the fields: everything is escaped.
void write(spdlog::level::level_enum lvl, std::string_view msg,
           std::initializer_list<field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<field> xs = {}) {
  write(spdlog::level::debug, msg, xs);
}

inline void info(std::string_view msg, std::initializer_list<field> xs = {}) {
  write(spdlog::level::info, msg, xs);
}

inline void warn(std::string_view msg, std::initializer_list<field> xs = {}) {
  write(spdlog::level::warn, msg, xs);
}

inline void error(std::string_view msg, std::initializer_list<field> xs = {}) {
  write(spdlog::level::err, msg, xs);
}

} // namespace jobwire::log
