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
    w.field(f.key, f.value);
  logger()->log(lvl, "{}", w.finish());
}

} // namespace jobwire::log
