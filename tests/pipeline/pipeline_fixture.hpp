#pragma once

// Header-only helpers for the cross-process pipeline tests: a real jobwire
// (JOBWIRE_BIN) with a short worker grace, and jobwire-pipeline processes
// (JOBWIRE_PIPELINE_BIN) talking to it over CAF.

#include <chrono>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "child_process.hpp"
#include "http_client.hpp"
#include "raw_socket.hpp"
#include "server_fixture.hpp"
#include "wire_checks.hpp"
#include "ws_client.hpp"

namespace jobwire::test {

/// The CAF port from jobwire's second stdout line, `jobwire caf port N`;
/// waits up to `timeout` for it.
inline uint16_t read_caf_port(server_process& server,
                              std::chrono::milliseconds timeout
                              = std::chrono::seconds{5}) {
  constexpr std::string_view prefix = "jobwire caf port ";
  uint16_t result = 0;
  eventually(
    [&] {
      auto text = server.stdout_text();
      auto pos = text.find(prefix);
      if (pos == std::string::npos)
        return false;
      auto nl = text.find('\n', pos);
      if (nl == std::string::npos)
        return false;
      auto digits = text.substr(pos + prefix.size(),
                                nl - pos - prefix.size());
      auto value = std::strtoul(digits.c_str(), nullptr, 10);
      if (value == 0 || value > 65535)
        return false;
      result = static_cast<uint16_t>(value);
      return true;
    },
    timeout);
  if (result == 0)
    throw std::runtime_error("jobwire printed no 'jobwire caf port N' line; "
                             "stdout: "
                             + server.stdout_text());
  return result;
}

/// Whether `type` names one of the five job events.
inline bool is_job_event(const std::string& type) {
  static const std::set<std::string> names{"progress_update", "stage_complete",
                                           "job_complete", "job_failed",
                                           "job_cancelled"};
  return names.count(type) > 0;
}

/// Each test gets jobwire with `--worker-grace=1` (shared by the tests of
/// one executable) and its CAF port.
class pipeline_fixture : public server_fixture {
public:
  pipeline_fixture() : server_fixture({"--worker-grace=1"}) {
    caf_port_ = read_caf_port(server());
  }

  uint16_t caf_port() const {
    return caf_port_;
  }

  /// The jobwire-pipeline binary.
  static std::string pipeline_binary() {
    return binary_from_env("JOBWIRE_PIPELINE_BIN");
  }

  /// Starts `jobwire-pipeline command args... --caf-port=P`.
  std::unique_ptr<child_process>
  start_pipeline(std::string command, std::vector<std::string> args) {
    args.insert(args.begin(), std::move(command));
    args.push_back("--caf-port=" + std::to_string(caf_port_));
    return std::make_unique<child_process>(pipeline_binary(), args);
  }

  /// Runs `jobwire-pipeline command args... --caf-port=P` to its end.
  run_result run_pipeline(std::string command, std::vector<std::string> args,
                          std::chrono::milliseconds timeout
                          = std::chrono::seconds{20}) {
    args.insert(args.begin(), std::move(command));
    args.push_back("--caf-port=" + std::to_string(caf_port_));
    return run_to_completion(pipeline_binary(), args, timeout);
  }

  /// A WebSocket subscribed to `job_id` from `since_seq` on.
  ws_client watch(const std::string& job_id, int64_t since_seq = 0) {
    auto ws = open_ws(port());
    ws.send_text(R"({"type":"subscribe","job_id":)" + q(job_id)
                 + R"(,"since_seq":)" + std::to_string(since_seq) + "}");
    auto reply = ws.read_type("subscribed");
    check_string(reply, "job_id", job_id);
    return ws;
  }

  /// Reads job events of `job_id` until one of type `last` (included) or
  /// `timeout`; other frames go to `others` when given.
  static std::vector<json_value>
  events_until(ws_client& ws, std::string_view last,
               std::chrono::milliseconds timeout,
               std::vector<json_value>* others = nullptr) {
    std::vector<json_value> result;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      auto frame = ws.read_frame(left);
      if (!frame)
        break;
      auto x = json_value::parse(frame->payload);
      auto type = type_of(x);
      if (!is_job_event(type)) {
        if (others != nullptr)
          others->push_back(std::move(x));
        continue;
      }
      result.push_back(std::move(x));
      if (type == last)
        break;
    }
    return result;
  }

  /// The types of `xs`, for messages.
  static std::string types_of(const std::vector<json_value>& xs) {
    std::string result;
    for (auto& x : xs)
      result += (result.empty() ? "" : " ") + type_of(x);
    return result;
  }

private:
  uint16_t caf_port_ = 0;
};

} // namespace jobwire::test
