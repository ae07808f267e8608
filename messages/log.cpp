#include "messages/log.hpp"

#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "messages/json_writer.hpp"
#include "messages/timestamp.hpp"

namespace jobwire::log {

namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static auto instance = [] {
    auto x = spdlog::stderr_logger_mt("jobwire");
    x->set_pattern("%v");
    return x;
  }();
  return instance;
}

} // namespace

bool init(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string{level});
  // from_str maps unknown names to off; only "off" itself may mean off.
  if (lvl == spdlog::level::off && level != "off")
    return false;
  logger()->set_level(lvl);
  logger()->flush_on(spdlog::level::warn);
  return true;
}

namespace {

/// Length of the valid UTF-8 sequence at the start of `x`, or 0.
size_t sequence_length(std::string_view x) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(x[i]); };
  auto c = at(0);
  if (c < 0x80)
    return 1;
  size_t n = c >= 0xc2 && c <= 0xdf   ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || x.size() < n)
    return 0;
  // The second byte's range excludes overlong forms, surrogates and code
  // points past U+10FFFF.
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  if (at(1) < lo || at(1) > hi)
    return 0;
  for (size_t i = 2; i < n; ++i)
    if (at(i) < 0x80 || at(i) > 0xbf)
      return 0;
  return n;
}

/// `x` with every byte that is not part of valid UTF-8 replaced by U+FFFD:
/// logged values come from clients (an Origin, a token's `sub`), and one
/// bad byte would make the line invalid JSON.
std::string as_utf8(std::string_view x) {
  std::string out;
  out.reserve(x.size());
  while (!x.empty()) {
    auto n = sequence_length(x);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      n = 1;
    } else {
      out.append(x.data(), n);
    }
    x.remove_prefix(n);
  }
  return out;
}

} // namespace

bool enabled(spdlog::level::level_enum lvl) {
  return logger()->should_log(lvl);
}

void write(spdlog::level::level_enum lvl, std::string_view msg,
           std::initializer_list<field> fields) {
  if (!enabled(lvl))
    return;
  json_writer w;
  w.field("ts", format_timestamp(unix_now_ms()));
  auto name = spdlog::level::to_string_view(lvl);
  w.field("level", std::string_view{name.data(), name.size()});
  w.field("msg", msg);
  for (auto& f : fields)
    w.field(f.key, as_utf8(f.value));
  logger()->log(lvl, "{}", w.finish());
}

} // namespace jobwire::log
