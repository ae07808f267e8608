#include "messages/timestamp.hpp"

#include <chrono>
#include <cstdio>

namespace jobwire {

int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

std::string format_timestamp(int64_t unix_ms) {
  using namespace std::chrono;
  auto tp = sys_time<milliseconds>{milliseconds{unix_ms}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  char buf[64]; // roomy: the compiler cannot see the fields' ranges
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ",
                static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()),
                static_cast<long>(hms.subseconds().count()));
  return buf;
}

std::optional<int64_t> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != shape.size())
    return std::nullopt;
  for (size_t i = 0; i < shape.size(); ++i) {
    bool digit = text[i] >= '0' && text[i] <= '9';
    if (shape[i] == 'd' ? !digit : text[i] != shape[i])
      return std::nullopt;
  }
  auto number = [&](size_t at, size_t digits) {
    int x = 0;
    for (size_t i = at; i < at + digits; ++i)
      x = x * 10 + (text[i] - '0');
    return x;
  };
  using namespace std::chrono;
  year_month_day ymd{year{number(0, 4)},
                     month{static_cast<unsigned>(number(5, 2))},
                     day{static_cast<unsigned>(number(8, 2))}};
  auto h = number(11, 2);
  auto m = number(14, 2);
  auto s = number(17, 2);
  if (!ymd.ok() || h > 23 || m > 59 || s > 59)
    return std::nullopt;
  auto tp = sys_days{ymd} + hours{h} + minutes{m} + seconds{s}
            + milliseconds{number(20, 3)};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

} // namespace jobwire
