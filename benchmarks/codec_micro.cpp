// Micro-benchmark of the JSON codec's hot paths: serialising an event (once
// per event) and parsing a client command (once per frame received).
// Prints operations per second and ns per operation.

#include <chrono>
#include <cstdio>
#include <string>

#include "messages/json_codec.hpp"

namespace {

template <class F>
void measure(const char* name, size_t n, F&& f) {
  size_t sink = 0;
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    sink += f(i);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%-28s %10.0f ops/s %8.1f ns/op  (check %zu)\n", name,
              n / took.count(), took.count() * 1e9 / n, sink % 10);
}

} // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::stoul(argv[1]) : 1000000;
  jobwire::job_event ev;
  ev.type = jobwire::event_type::progress_update;
  ev.job_id = "job_20240115_abc123";
  ev.stage = "stage_1";
  ev.progress = 50;
  ev.message = "Detecting walls in the floor plan, pass 3 of 7...";
  ev.has_eta = true;
  ev.eta_seconds = 15;
  ev.timestamp_ms = 1705314615000;
  measure("encode progress_update", n, [&](size_t i) {
    ev.seq = i;
    return jobwire::encode_event(ev).size();
  });
  std::printf("  event size: %zu bytes\n", jobwire::encode_event(ev).size());
  std::string cmd
    = R"({"type":"subscribe","job_id":"job_20240115_abc123","since_seq":42,"request_id":"r-17"})";
  measure("parse subscribe", n, [&](size_t) {
    return jobwire::parse_command(cmd).job_id.size();
  });
  std::string body
    = R"({"type":"progress_update","stage":"stage_1","progress":50,"message":"Detecting walls...","estimated_seconds_remaining":15})";
  measure("parse publish", n, [&](size_t) {
    auto x = jobwire::parse_publish(body, "job_20240115_abc123");
    return x ? x->stage.size() : 0;
  });
}
