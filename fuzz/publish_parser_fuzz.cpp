// libFuzzer target: a publish body through jobwire::parse_publish for job
// "job_1". When it is accepted, the event as subscribers receive it
// (encode_event) must parse back to the same event.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "messages/json_codec.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& json) {
  std::fprintf(stderr, "publish_parser_fuzz: %s\nencoded: %s\n", what,
               json.c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  auto ev = jobwire::parse_publish(body, "job_1");
  if (!ev)
    return 0;
  ev->seq = 7;
  ev->timestamp_ms = 1764072000000;
  auto json = jobwire::encode_event(*ev);
  auto back = jobwire::parse_publish(json, "job_1");
  if (!back)
    fail("encode_event output does not parse back", json);
  const auto& a = *ev;
  const auto& b = *back;
  if (a.type != b.type)
    fail("type differs", json);
  if (a.job_id != b.job_id)
    fail("job_id differs", json);
  if (a.correlation_id != b.correlation_id)
    fail("correlation_id differs", json);
  switch (a.type) {
    case jobwire::event_type::progress_update:
      if (a.stage != b.stage || a.message != b.message)
        fail("stage or message differs", json);
      if (a.progress != b.progress)
        fail("progress differs", json);
      if (a.has_eta != b.has_eta || (a.has_eta && a.eta_seconds != b.eta_seconds))
        fail("estimated_seconds_remaining differs", json);
      break;
    case jobwire::event_type::stage_complete:
      if (a.stage != b.stage)
        fail("stage differs", json);
      [[fallthrough]];
    case jobwire::event_type::job_complete:
      if (a.results != b.results)
        fail("results differs", json);
      break;
    case jobwire::event_type::job_failed:
      if (a.error_code != b.error_code || a.error_message != b.error_message
          || a.error_stage != b.error_stage)
        fail("error differs", json);
      break;
    case jobwire::event_type::job_cancelled:
      if (a.reason != b.reason)
        fail("reason differs", json);
      break;
  }
  return 0;
}
