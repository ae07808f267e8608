// jobwire-pipeline: runs staged demo jobs against jobwire over CAF, or
// publishes one event from the shell.

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/command_line_error.hpp"
#include "messages/config_file_check.hpp"
#include "messages/error_code.hpp"
#include "messages/host_port.hpp"
#include "messages/identifiers.hpp"
#include "messages/job_event.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/whole_number_options.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"
#include "pipeline/event_id.hpp"
#include "pipeline/job_handle.hpp"
#include "pipeline/stop_request.hpp"
#include "pipeline/tls_mirror.hpp"

namespace {

using namespace std::chrono_literals;
namespace pl = jobwire::pipeline;

constexpr std::string_view usage_text = R"(usage: jobwire-pipeline COMMAND [--option=value ...]

Talks to jobwire's CAF port as a pipeline process.

commands:
  run       run demo jobs through stages, publishing progress; prints each
            job id on its own line as the job starts; a cancel request stops
            the job, which then publishes job_cancelled
  publish   publish one event and print its seq

options for both:
  --host=HOST               jobwire's host (default 127.0.0.1)
  --caf-port=PORT           jobwire's --caf-port (default 4242)
  --caf-tls-cert=F --caf-tls-key=F --caf-tls-ca=F   TLS to a server started with the same options
  --connect-attempts=N      connection attempts before giving up (default 3)
  --request-timeout-ms=MS   wait for each reply before retrying (default 5000);
                            retries go on for 5 tries and at least 10 s
  --log-level=LEVEL         trace, debug, info, warn (default), error, off

options for run:
  --jobs=N                  jobs to run at the same time, 1 to 1000 (default 1)
  --stages=S                stages per job, 1 to 1000 (default 3)
  --stage-ms=MS             duration of one stage, up to a day (default 1000)
  --steps=K                 progress updates per stage, 1 to 1000 (default 4)
  --job-prefix=P            job ids are P_<random>_<n> (default demo)
  --eta=false               leave the ETA out (the server estimates it)

options for publish:
  --job=ID                  the job (required)
  --type=TYPE               progress_update, stage_complete, job_complete,
                            job_failed or job_cancelled (required)
  --stage=NAME              the stage (job_failed: the stage at fault)
  --progress=PCT            0 to 100 (progress_update)
  --message=TEXT            progress message
  --eta=SECONDS             seconds remaining (progress_update; left out, the
                            server estimates it; null: unknown, no estimate)
  --results=JSON            a JSON object (stage_complete, job_complete)
  --error-code=CODE         job_failed's error code
  --error-message=TEXT      job_failed's error message
  --reason=TEXT             job_cancelled's reason
  --event-id=ID             publish with this event id (a repeat is stored
                            once and answered with the first seq)
  --correlation-id=ID       tag the event

CAF's own options (--middleman.heartbeat-interval=.., --scheduler.max-threads=..)
are accepted as well.

On SIGTERM or SIGINT, run stops each job at its next step and publishes
job_failed with error code worker_stopped (a second signal ends it at once).

exit status: 0 on success, 1 when jobwire is unreachable or refuses, 2 on a
usage error or --caf-tls-* files it cannot use, 128+N after signal N stopped
run (143 for SIGTERM, 130 for SIGINT).
)";

struct config : caf::actor_system_config {
  std::string host = "127.0.0.1";
  uint16_t caf_port = 4242;
  size_t connect_attempts = 3;
  size_t request_timeout_ms = 5000;
  std::string log_level = "warn";
  // run
  size_t jobs = 1;
  size_t stages = 3;
  size_t stage_ms = 1000;
  size_t steps = 4;
  std::string job_prefix = "demo";
  // publish (numbers as text: empty means absent)
  std::string job;
  std::string type;
  std::string stage;
  std::string progress;
  std::string message;
  std::string eta;
  std::string results = "{}";
  std::string error_code;
  std::string error_message;
  std::string reason;
  std::string event_id;
  std::string correlation_id;
  std::string caf_tls_cert;
  std::string caf_tls_key;
  std::string caf_tls_ca;

  config() {
    opt_group{custom_options_, "global"}
      .add(host, "host", "jobwire's host")
      .add(caf_port, "caf-port", "jobwire's CAF port")
      .add(connect_attempts, "connect-attempts", "connection attempts")
      .add(request_timeout_ms, "request-timeout-ms", "reply timeout")
      .add(log_level, "log-level", "log level")
      .add(jobs, "jobs", "run: concurrent jobs")
      .add(stages, "stages", "run: stages per job")
      .add(stage_ms, "stage-ms", "run: milliseconds per stage")
      .add(steps, "steps", "run: progress updates per stage")
      .add(job_prefix, "job-prefix", "run: job id prefix")
      .add(job, "job", "publish: job id")
      .add(type, "type", "publish: event type")
      .add(stage, "stage", "publish: stage")
      .add(progress, "progress", "publish: progress percent")
      .add(message, "message", "publish: message")
      .add(eta, "eta", "publish: ETA seconds; run: true or false")
      .add(results, "results", "publish: results JSON object")
      .add(error_code, "error-code", "publish: error code")
      .add(error_message, "error-message", "publish: error message")
      .add(reason, "reason", "publish: cancel reason")
      .add(event_id, "event-id", "publish: event id")
      .add(correlation_id, "correlation-id", "publish: correlation id")
      .add(caf_tls_cert, "caf-tls-cert", "PEM certificate for a TLS CAF port")
      .add(caf_tls_key, "caf-tls-key", "PEM private key of --caf-tls-cert")
      .add(caf_tls_ca, "caf-tls-ca", "PEM CA the server's certificate is from");
    set("scheduler.max-threads", 2);
    pl::configure(*this);
  }

  std::string check_whole_numbers(int argc, char** argv) const {
    return jobwire::check_whole_number_options(custom_options_, argc, argv);
  }

  std::string check_config_file(const std::string& path) const {
    return jobwire::check_config_file(custom_options_, path, true);
  }
};

/// The exit status of usage errors.
constexpr int usage_status = 2;

int usage_error(const std::string& what) {
  std::cerr << "jobwire-pipeline: " << what << " (see --help)" << std::endl;
  return usage_status;
}

std::string endpoint(const config& cfg) {
  return jobwire::host_port(cfg.host, cfg.caf_port);
}

/// Whether a connection over TLS broke off in the TLS handshake. CAF says
/// only that the peer hung up, or, when TLS failed at its first bytes,
/// cannot_connect_to_node without the context its socket errors carry.
bool tls_handshake_failed(const caf::error& err) {
  return err == caf::sec::disconnect_during_handshake
         || (err == caf::sec::cannot_connect_to_node && err.context().empty());
}

int unreachable(const config& cfg, const caf::error& err) {
  auto tries = std::max<size_t>(1, cfg.connect_attempts);
  std::cerr << "jobwire-pipeline: cannot reach jobwire at " << endpoint(cfg)
            << (tries > 1 ? " (" + std::to_string(tries) + " attempts)" : "")
            << ": " << pl::error_text(err);
  if (!cfg.caf_tls_cert.empty() && tls_handshake_failed(err))
    std::cerr << ": the TLS handshake failed (is that port jobwire's CAF port "
                 "with TLS, does it take certificates from the CA of "
                 "--caf-tls-cert, and is its own certificate from "
                 "--caf-tls-ca?)";
  else if (cfg.caf_tls_cert.empty()
           && err == caf::sec::disconnect_during_handshake)
    std::cerr << ": the server hung up in CAF's handshake (does its CAF port "
                 "take TLS? then give --caf-tls-cert, --caf-tls-key and "
                 "--caf-tls-ca)";
  std::cerr << std::endl;
  return EXIT_FAILURE;
}

/// Reports a failed call: unreachable server or refusal.
int call_failed(const config& cfg, std::string_view what,
                const caf::error& err) {
  if (pl::is_transient(err))
    return unreachable(cfg, err);
  std::cerr << "jobwire-pipeline: " << what << " refused: "
            << pl::error_text(err) << std::endl;
  return EXIT_FAILURE;
}

/// Parses a whole string as a double.
bool parse_number(const std::string& x, double& out) {
  if (x.empty())
    return false;
  auto first = x.data();
  auto last = x.data() + x.size();
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc{} && ptr == last;
}

// -- run ----------------------------------------------------------------------

struct run_context {
  run_context(const config& cfg, pl::client& cli, pl::stop_request& stop,
              bool with_eta, std::string batch)
    : cfg(cfg),
      cli(cli),
      stop(stop),
      with_eta(with_eta),
      batch(std::move(batch)) {
    // nop
  }

  const config& cfg;
  pl::client& cli;
  pl::stop_request& stop;
  bool with_eta;
  std::string batch; // random part of the job ids
  std::mutex out_mtx;
  std::atomic<int> failures{0};

  void say(const std::string& line, bool to_stdout) {
    std::lock_guard guard{out_mtx};
    auto& out = to_stdout ? std::cout : std::cerr;
    out << line << std::endl; // endl flushes
  }

  void failed(const std::string& job_id, std::string_view what,
              const caf::error& err) {
    ++failures;
    auto prefix = pl::is_transient(err) ? "cannot reach jobwire at "
                                            + endpoint(cfg) + ": "
                                        : std::string{what} + " refused: ";
    say("jobwire-pipeline: job " + job_id + ": " + prefix
          + pl::error_text(err),
        false);
  }

  // Runs one demo job to its end.
  void run_job(size_t index) {
    auto job_id = cfg.job_prefix + "_" + batch + "_" + std::to_string(index);
    // The callback wakes the wait between steps, which waits for a stop
    // signal too.
    auto hdl = pl::job_handle::open(cli, job_id, [this](const std::string&) {
      stop.wake();
    });
    if (!hdl) {
      failed(job_id, "attach", hdl.error());
      return;
    }
    say(job_id, true);
    auto steps = cfg.steps;
    auto step_time = std::chrono::milliseconds{cfg.stage_ms / steps};
    auto stop_on_cancel = [&] {
      auto reason = hdl->cancel_reason();
      if (auto seq = hdl->cancelled(); !seq)
        failed(job_id, "job_cancelled", seq.error());
      else
        say("jobwire-pipeline: job " + job_id + " cancelled"
              + (reason.empty() ? "" : ": " + reason),
            false);
    };
    // A cancel that ended the job while this process was away (a server
    // restart, a lost link) may not have reached the worker yet: the
    // publish is refused as the job has ended. Stop as on a cancel then.
    auto refused = [&](std::string_view what, const caf::error& err) {
      if (err == jobwire::error_code::job_finished) {
        auto snap = cli.status(job_id);
        if (snap && snap->status == jobwire::job_status::cancelled)
          return stop_on_cancel();
      }
      failed(job_id, what, err);
    };
    auto stop_on_signal = [&](const std::string& stage) {
      auto sig = pl::stop_request::name(stop.signal());
      if (auto seq = hdl->fail("worker_stopped",
                               "jobwire-pipeline was stopped (" + sig
                                 + ") before the job's end",
                               stage);
          !seq)
        return refused("job_failed", seq.error());
      say("jobwire-pipeline: job " + job_id + " stopped by " + sig
            + ": failed with worker_stopped",
          false);
    };
    // A cancel request wins over a stop: a client asked for it.
    auto should_stop = [&] {
      return hdl->cancel_requested() || stop.signal() != 0;
    };
    auto stop_now = [&](const std::string& stage) {
      return hdl->cancel_requested() ? stop_on_cancel() : stop_on_signal(stage);
    };
    for (size_t s = 1; s <= cfg.stages; ++s) {
      auto stage = "stage_" + std::to_string(s);
      for (size_t k = 0; k < steps; ++k) {
        if (should_stop())
          return stop_now(stage);
        auto pct = 100.0 * static_cast<double>(k) / static_cast<double>(steps);
        auto message = "stage " + std::to_string(s) + " of "
                       + std::to_string(cfg.stages) + ", step "
                       + std::to_string(k + 1) + " of "
                       + std::to_string(steps);
        auto steps_left = (cfg.stages - s) * steps + (steps - k);
        auto eta = static_cast<double>(steps_left * step_time.count()) / 1000.0;
        auto seq = with_eta ? hdl->progress(stage, pct, message, eta)
                            : hdl->progress(stage, pct, message);
        if (!seq)
          return refused("progress_update", seq.error());
        stop.wait(step_time, [&] { return hdl->cancel_requested(); });
        if (should_stop())
          return stop_now(stage);
      }
      auto results = R"({"stage":)" + std::to_string(s) + R"(,"items":)"
                     + std::to_string(s * 10) + "}";
      if (auto seq = hdl->stage_complete(stage, results); !seq)
        return refused("stage_complete", seq.error());
    }
    if (should_stop())
      return stop_now("stage_" + std::to_string(cfg.stages));
    auto results = R"({"stages":)" + std::to_string(cfg.stages) + "}";
    if (auto seq = hdl->complete(results); !seq)
      return refused("job_complete", seq.error());
  }
};

/// run's --eta: whether events carry an ETA; none for a value it does not
/// take.
std::optional<bool> run_eta(const std::string& x) {
  if (x.empty() || x == "true" || x == "yes")
    return true;
  if (x == "false" || x == "no" || x == "0")
    return false;
  return std::nullopt;
}

/// What is wrong with `run`'s options, or "": checked before connecting.
std::string check_run_options(const config& cfg) {
  for (auto bad : {jobwire::range_error("jobs", cfg.jobs, 1, 1000), // a thread
                   jobwire::range_error("stages", cfg.stages, 1, 1000),
                   jobwire::range_error("steps", cfg.steps, 1, 1000),
                   jobwire::range_error("stage-ms", cfg.stage_ms, 0,
                                        86'400'000)})
    if (!bad.empty())
      return bad;
  // The ids are PREFIX_<8 random>_<n>.
  if (!jobwire::is_valid_job_id(cfg.job_prefix + "_12345678_"
                                + std::to_string(cfg.jobs)))
    return "--job-prefix='" + cfg.job_prefix
           + "' makes no valid job id: ids are PREFIX_<8 characters>_<n>, "
             "at most 128 characters of A-Z a-z 0-9 . _ : -";
  if (!run_eta(cfg.eta))
    return "run takes --eta=true or --eta=false";
  return {};
}

int run_command(const config& cfg, pl::client& cli, pl::stop_request& stop) {
  run_context ctx{cfg, cli, stop, run_eta(cfg.eta).value_or(true),
                  pl::event_id_source::random_prefix().substr(0, 8)};
  stop.jobs_started();
  std::vector<std::thread> threads;
  threads.reserve(cfg.jobs);
  for (size_t i = 1; i <= cfg.jobs; ++i)
    threads.emplace_back([&ctx, i] { ctx.run_job(i); });
  for (auto& x : threads)
    x.join();
  if (auto sig = stop.signal())
    return 128 + sig;
  return ctx.failures > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

// -- publish ---------------------------------------------------------------------

/// The event `publish` was asked for, from the options; a usage error's
/// exit status when they do not make one.
std::optional<int> make_event(const config& cfg, jobwire::job_event& ev) {
  if (cfg.job.empty())
    return usage_error("publish needs --job=ID");
  if (cfg.type.empty() || !jobwire::from_string(cfg.type, ev.type))
    return usage_error("publish needs --type=progress_update, stage_complete, "
                       "job_complete, job_failed or job_cancelled");
  ev.job_id = cfg.job;
  if (ev.type == jobwire::event_type::job_failed)
    ev.error_stage = cfg.stage;
  else
    ev.stage = cfg.stage;
  if (!cfg.progress.empty() && !parse_number(cfg.progress, ev.progress))
    return usage_error("--progress must be a number, not '" + cfg.progress
                       + "'");
  if (cfg.eta == "null") {
    ev.eta_seconds = jobwire::eta_said_unknown;
  } else if (!cfg.eta.empty()) {
    if (!parse_number(cfg.eta, ev.eta_seconds))
      return usage_error("--eta must be a number of seconds, not '" + cfg.eta
                         + "'");
    ev.has_eta = true;
  }
  ev.message = cfg.message;
  ev.results = cfg.results;
  ev.error_code = cfg.error_code;
  ev.error_message = cfg.error_message;
  ev.reason = cfg.reason;
  ev.event_id = cfg.event_id;
  ev.correlation_id = cfg.correlation_id;
  return std::nullopt;
}

int publish_command(const config& cfg, pl::client& cli,
                    jobwire::job_event ev) {
  auto seq = cli.publish(std::move(ev));
  if (!seq)
    return call_failed(cfg, "publish", seq.error());
  std::cout << *seq << std::endl;
  return EXIT_SUCCESS;
}

} // namespace

int main(int argc, char** argv) {
  // The subcommand comes first; CAF's parser stops at positional arguments.
  std::vector<char*> args{argv, argv + argc};
  for (int i = 1; i < argc; ++i) {
    std::string_view x = argv[i];
    if (x == "--help" || x == "-h" || x == "help") {
      std::cout << usage_text;
      return EXIT_SUCCESS;
    }
  }
  if (argc < 2)
    return usage_error("missing command: run or publish");
  std::string command = argv[1];
  if (command != "run" && command != "publish")
    return usage_error("unknown command '" + command
                       + "': expected run or publish");
  args.erase(args.begin() + 1);
  config cfg;
  if (auto bad = cfg.check_whole_numbers(static_cast<int>(args.size()),
                                         args.data());
      !bad.empty())
    return usage_error(bad);
  // Only a file named here: the default one in the working directory may
  // be a server's, whose options are not the pipeline's.
  bool named = false;
  auto file = jobwire::config_file_argument(static_cast<int>(args.size()),
                                            args.data(), named);
  if (named) {
    if (auto bad = cfg.check_config_file(file); !bad.empty())
      return usage_error(bad);
  }
  if (auto err = cfg.parse(static_cast<int>(args.size()), args.data()))
    return usage_error(jobwire::describe_command_line_error(err));
  // 0 would time every request out before it could be answered.
  for (auto bad : {jobwire::range_error("request-timeout-ms",
                                        cfg.request_timeout_ms, 1, 3'600'000),
                   jobwire::range_error("connect-attempts",
                                        cfg.connect_attempts, 1, 1000)})
    if (!bad.empty())
      return usage_error(bad);
  if (!cfg.remainder.empty())
    return usage_error("unexpected argument '" + cfg.remainder.front() + "'");
  if (!jobwire::log::init(cfg.log_level))
    return usage_error("unknown --log-level '" + cfg.log_level + "'");
  if (command == "publish" && (cfg.job.empty() || cfg.type.empty()))
    return usage_error("publish needs --job=ID and --type=TYPE");
  // An event the server would refuse is refused before connecting, with
  // the server's words, also when no server is up.
  jobwire::job_event ev;
  if (command == "publish") {
    if (auto status = make_event(cfg, ev))
      return *status;
    if (auto err = jobwire::validate_event(ev))
      return call_failed(cfg, "publish", err);
  }
  if (command == "run") {
    if (auto bad = check_run_options(cfg); !bad.empty())
      return usage_error(bad);
  }
  // Before any thread starts. Never destroyed: its thread outlives `main`.
  static auto* stop = new pl::stop_request;
  if (command == "run")
    stop->watch();
  auto tls = !cfg.caf_tls_cert.empty() || !cfg.caf_tls_key.empty()
             || !cfg.caf_tls_ca.empty();
  // Outlives the actor system, whose connections read its files.
  std::unique_ptr<pl::tls_mirror> mirror;
  if (tls) {
    if (cfg.caf_tls_cert.empty() || cfg.caf_tls_key.empty()
        || cfg.caf_tls_ca.empty())
      return usage_error(
        "--caf-tls-cert, --caf-tls-key and --caf-tls-ca go together");
    // CAF would load them only once connected, and fail there with no word
    // on stderr; later, at a reconnect, files replaced by ones that do not
    // load would abort the process. It gets copies that always load.
    std::string bad;
    mirror = pl::tls_mirror::open(cfg.caf_tls_cert, cfg.caf_tls_key,
                                  cfg.caf_tls_ca, bad);
    if (!mirror) {
      std::cerr << "jobwire-pipeline: " << bad << std::endl;
      return usage_status;
    }
    pl::configure_tls(cfg, mirror->identity_path(), mirror->identity_path(),
                      mirror->ca_path());
    mirror->watch(std::chrono::seconds(5), [](const pl::tls_mirror::outcome& x) {
      if (x.what == pl::tls_mirror::outcome::taken)
        jobwire::log::info("CAF TLS files reloaded");
      else
        jobwire::log::warn("CAF TLS files changed but not taken",
                           {{"reason", x.reason}});
    });
  }
  caf::actor_system sys{cfg};
  pl::client_settings settings;
  settings.tls = tls;
  settings.host = cfg.host;
  settings.port = cfg.caf_port;
  settings.connect_attempts = static_cast<unsigned>(cfg.connect_attempts);
  settings.request_timeout = std::chrono::milliseconds{cfg.request_timeout_ms};
  settings.connect_timeout = std::chrono::milliseconds{cfg.request_timeout_ms};
  auto cli = pl::client::connect(sys, settings);
  if (!cli)
    return unreachable(cfg, cli.error());
  return command == "run" ? run_command(cfg, *cli, *stop)
                          : publish_command(cfg, *cli, std::move(ev));
}
