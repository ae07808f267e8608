#pragma once

// Header-only helpers for the persistence and delivery tests: temp data dirs
// that outlive one server process, /proc and /metrics readings, a wait for
// a connection to leave a job's list, a raw
// WebSocket client that never answers pings on its own, and a checker for
// one job's event stream on one connection.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "http_client.hpp"
#include "json_value.hpp"
#include "raw_socket.hpp"
#include "server_fixture.hpp"
#include "wire_checks.hpp"

namespace jobwire::test {

/// Writes to a socket the server closed must fail, not kill the test.
struct ignore_sigpipe {
  ignore_sigpipe() {
    std::signal(SIGPIPE, SIG_IGN);
  }
};

using clock_type = std::chrono::steady_clock;

/// How many times slower than a Release build the server and this test
/// run: sanitizer builds set it (scripts/sanitize.sh), so that a reader
/// starved of CPU is not taken for a slow consumer, nor a slow fill for an
/// expiry.
inline int time_scale() {
  auto env = std::getenv("JOBWIRE_TIME_SCALE");
  auto scale = env ? std::atoi(env) : 1;
  return scale > 0 ? scale : 1;
}

/// Waits until `connection_id` is (`listed`) or is no longer among the open
/// connections of `job`, as the registry's stored job index says.
inline bool wait_listing(uint16_t port, std::string_view job,
                         std::string_view connection_id, bool listed,
                         std::chrono::milliseconds timeout
                         = std::chrono::seconds{10}) {
  http_client http{port};
  return eventually(
    [&] {
      auto res = http.get(job_path(job) + "/connections");
      if (res.status != 200)
        return false;
      auto body = res.json();
      for (auto& x : body["connections"].as_array())
        if (x.as_string() == connection_id)
          return listed;
      return !listed;
    },
    timeout);
}

/// Waits until the server has seen the connection end and written its
/// record: it is no longer listed as open on `job`.
inline bool wait_unlisted(uint16_t port, std::string_view job,
                          std::string_view connection_id,
                          std::chrono::milliseconds timeout
                          = std::chrono::seconds{10}) {
  return wait_listing(port, job, connection_id, false, timeout);
}

/// Waits until the connection's record, with `job` in it, is stored.
inline bool wait_listed(uint16_t port, std::string_view job,
                        std::string_view connection_id,
                        std::chrono::milliseconds timeout
                        = std::chrono::seconds{10}) {
  return wait_listing(port, job, connection_id, true, timeout);
}

inline long long ms_since(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           clock_type::now() - t)
    .count();
}

// -- temp dirs ----------------------------------------------------------------

/// A temp dir with a `data` dir inside, for a data dir that several server
/// processes use one after the other. Removed at the end unless `keep()` was
/// called or JOBWIRE_KEEP_TMP is set.
class temp_data_dir {
public:
  temp_data_dir() {
    std::string base = "/tmp";
    if (auto tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0')
      base = tmp;
    std::string templ = base + "/jobwire-it-data-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = templ;
    std::filesystem::create_directory(data());
  }

  ~temp_data_dir() {
    auto keep = std::getenv("JOBWIRE_KEEP_TMP");
    if (!keep_ && (keep == nullptr || *keep == '\0')) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }

  temp_data_dir(const temp_data_dir&) = delete;
  temp_data_dir& operator=(const temp_data_dir&) = delete;

  const std::string& path() const {
    return path_;
  }

  std::string data() const {
    return path_ + "/data";
  }

  /// `--data-dir=<data()>`.
  std::string option() const {
    return "--data-dir=" + data();
  }

  void keep() {
    keep_ = true;
  }

private:
  std::string path_;
  bool keep_ = false;
};

// -- readings -----------------------------------------------------------------

/// The field `name` (e.g. "VmRSS", "RssAnon", "RssFile") of
/// /proc/`pid`/status in kB, or -1 when it cannot be read.
inline long proc_status_kb(pid_t pid, std::string_view name) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.starts_with(name)
        && line[name.size()] == ':') {
      std::istringstream fields{line.substr(name.size() + 1)};
      long kb = -1;
      fields >> kb;
      return kb;
    }
  }
  return -1;
}

/// VmRSS of `pid` in kB, or -1 when it cannot be read.
inline long vm_rss_kb(pid_t pid) {
  return proc_status_kb(pid, "VmRSS");
}

/// How often `what` occurs in `text` (lines of a log, say).
inline size_t occurrences(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos;
       at = text.find(what, at + what.size()))
    ++n;
  return n;
}

/// The value of the sample `name` (no labels) in a Prometheus text body.
inline std::optional<double> metric_in(std::string_view body,
                                       std::string_view name) {
  size_t pos = 0;
  while (pos < body.size()) {
    auto end = body.find('\n', pos);
    if (end == std::string_view::npos)
      end = body.size();
    auto line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with('#') || !line.starts_with(name))
      continue;
    auto rest = line.substr(name.size());
    if (rest.empty() || rest.front() != ' ')
      continue;
    try {
      return std::stod(std::string{rest.substr(1)});
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

/// GET /metrics and the sample `name`; nothing on any failure.
inline std::optional<double> read_metric(uint16_t port,
                                         std::string_view name) {
  try {
    http_client http{port};
    auto res = http.get("/metrics");
    if (res.status != 200)
      return std::nullopt;
    return metric_in(res.body, name);
  } catch (...) {
    return std::nullopt;
  }
}

// -- a raw WebSocket client -----------------------------------------------------

/// A WebSocket client on `raw_socket`: reads only when told to, and never
/// answers a ping unless `answer_pings` is set, so it can stall and go
/// silent the way a broken peer does.
class raw_ws {
public:
  using duration = std::chrono::milliseconds;

  /// Connects, upgrades and reads the `connected` frame; throws on failure.
  /// `receive_buffer` > 0 sets SO_RCVBUF before connecting.
  void open(uint16_t port, int receive_buffer = 0) {
    if (receive_buffer > 0)
      sock_.set_receive_buffer(receive_buffer);
    sock_.connect(port);
    auto reply = sock_.handshake(port);
    if (!reply || reply->status != 101)
      throw std::runtime_error("raw_ws: upgrade failed");
    auto hello = read_json(std::chrono::seconds{5});
    if (!hello || !hello->contains("connection_id")
        || (*hello)["type"].as_string() != "connected")
      throw std::runtime_error("raw_ws: no connected frame");
    connection_id_ = (*hello)["connection_id"].as_string();
  }

  const std::string& connection_id() const {
    return connection_id_;
  }

  raw_socket& socket() {
    return sock_;
  }

  /// Sends one masked text frame.
  bool send_text(std::string_view text) {
    return sock_.send_frame(ws_opcode::text, text);
  }

  /// The next text message as JSON; pings are counted (and answered only
  /// with `answer_pings`); a close frame or EOF ends the stream (see
  /// `close_seen`, `eof`). Nothing on timeout or end.
  std::optional<json_value> read_json(duration timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (close_seen_)
        return std::nullopt;
      auto left = std::chrono::duration_cast<duration>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() < 0)
        left = duration{0};
      auto f = sock_.read_frame(left);
      if (!f)
        return std::nullopt;
      switch (f->opcode) {
        case ws_opcode::ping:
          ++pings_;
          if (answer_pings)
            sock_.send_frame(ws_opcode::pong, f->payload);
          continue;
        case ws_opcode::pong:
          continue;
        case ws_opcode::close:
          close_seen_ = true;
          close_code_ = f->close_code();
          if (f->payload.size() > 2)
            close_reason_ = f->payload.substr(2);
          return std::nullopt;
        case ws_opcode::text:
          return json_value::parse(f->payload);
        default:
          throw std::runtime_error("raw_ws: unexpected opcode "
                                   + std::to_string(int(f->opcode)));
      }
    }
  }

  bool close_seen() const {
    return close_seen_;
  }

  uint16_t close_code() const {
    return close_code_;
  }

  const std::string& close_reason() const {
    return close_reason_;
  }

  bool eof() const {
    return sock_.eof();
  }

  int pings() const {
    return pings_;
  }

  bool answer_pings = false;

private:
  raw_socket sock_;
  std::string connection_id_;
  bool close_seen_ = false;
  uint16_t close_code_ = 0;
  std::string close_reason_;
  int pings_ = 0;
};

// -- event streams ----------------------------------------------------------------

/// What one connection saw of one job's events; collects problems as text
/// (no Boost.Test calls, so it may run on any thread).
struct event_stream {
  std::string job_id;
  /// Whether a progress_update may stand for others ("coalesced": N).
  bool allow_coalesced = false;
  /// The seq the next event must have (before coalescing).
  int64_t next_seq = 1;
  /// Seqs as received, in order.
  std::vector<int64_t> seqs;
  /// Seqs of the stage_complete and terminal events received.
  std::vector<int64_t> milestones;
  int64_t coalesced_frames = 0;
  int64_t coalesced_total = 0;
  std::vector<std::string> errors;

  event_stream() = default;

  event_stream(std::string job, int64_t first_seq, bool coalescing)
    : job_id(std::move(job)), allow_coalesced(coalescing), next_seq(first_seq) {
    // nop
  }

  int64_t last_seq() const {
    return seqs.empty() ? next_seq - 1 : seqs.back();
  }

  void fail(const std::string& what, const json_value& frame) {
    if (errors.size() < 8) {
      auto text = frame.dump();
      if (text.size() > 300)
        text = text.substr(0, 300) + "...";
      errors.push_back(what + ": " + text);
    }
  }

  static bool is_event_type(std::string_view t) {
    return t == "progress_update" || t == "stage_complete"
           || t == "job_complete" || t == "job_failed"
           || t == "job_cancelled";
  }

  /// Checks one event frame of `job_id`.
  void on_event(const json_value& frame) {
    auto seq_field = frame.find("seq");
    if (seq_field == nullptr || !seq_field->is_integer()) {
      fail("no integer seq", frame);
      return;
    }
    auto seq = seq_field->as_int();
    auto type_field = frame.find("type");
    std::string type = type_field != nullptr && type_field->is_string()
                         ? type_field->as_string()
                         : std::string{};
    auto job = frame.find("job_id");
    if (job == nullptr || !job->is_string() || job->as_string() != job_id)
      fail("wrong job_id (expected " + job_id + ")", frame);
    int64_t skipped = 0;
    if (auto c = frame.find("coalesced")) {
      if (!allow_coalesced)
        fail("a coalesced frame on a stream that must be complete", frame);
      if (type != "progress_update" || !c->is_integer() || c->as_int() < 1)
        fail("bad coalesced", frame);
      else
        skipped = c->as_int();
      ++coalesced_frames;
      coalesced_total += skipped;
    }
    if (!seqs.empty() && seq <= seqs.back())
      fail("duplicate or out of order after seq "
             + std::to_string(seqs.back()),
           frame);
    else if (seq != next_seq + skipped)
      fail("gap or jump (expected seq " + std::to_string(next_seq)
             + (skipped > 0 ? " + " + std::to_string(skipped) + " coalesced"
                            : std::string{})
             + ")",
           frame);
    seqs.push_back(seq);
    if (type != "progress_update")
      milestones.push_back(seq);
    next_seq = std::max(next_seq, seq + 1);
  }
};

/// Reads a raw client's frames until one of `type` (returns it) or nothing.
inline std::optional<json_value> raw_read_type(raw_ws& c, std::string_view type,
                                               std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    auto x = c.read_json(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now()));
    if (!x)
      return std::nullopt;
    if (type_of(*x) == type)
      return x;
  }
  return std::nullopt;
}

} // namespace jobwire::test
