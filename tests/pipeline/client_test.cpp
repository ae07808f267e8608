// The pipeline library against a stand-in ingest actor in a second actor
// system of this process, over real loopback.

#define BOOST_TEST_MODULE pipeline_client
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <ostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/error_code.hpp"
#include "messages/ingest.hpp"
#include "messages/log.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"
#include "pipeline/job_handle.hpp"

using namespace jobwire;
using namespace std::chrono_literals;
namespace pl = jobwire::pipeline;

namespace jobwire {

// For Boost.Test's messages.
std::ostream& operator<<(std::ostream& out, job_status x) {
  return out << to_string(x);
}

std::ostream& operator<<(std::ostream& out, event_type x) {
  return out << to_string(x);
}

} // namespace jobwire

namespace {

using clock_type = std::chrono::steady_clock;

/// What the stand-in saw, for the test to check. Thread-safe.
struct ingest_log {
  std::mutex mtx;
  /// Every publish that arrived, retries included.
  std::vector<job_event> received;
  /// Events stored (one per event id).
  std::vector<job_event> stored;
  std::vector<std::pair<std::string, worker_actor>> attached;
  std::vector<std::pair<std::string, worker_actor>> detached;
  /// Replies to withhold, as a lost acknowledgement would.
  int drop_replies = 0;
  /// Jobs whose snapshot says cancel_requested.
  std::set<std::string> cancel_requested;

  template <class F>
  auto with(F f) {
    std::lock_guard guard{mtx};
    return f(*this);
  }
};

struct stand_in_state {
  std::map<std::string, uint64_t> last_seq;
  std::map<std::string, std::map<std::string, uint64_t>> seen_ids;
  std::set<std::string> finished;
  std::vector<caf::typed_response_promise<std::string, uint64_t>> withheld;
  static inline const char* name = "stand_in_ingest";
};

/// jobwire's ingest protocol in its simplest form: seq per job, event id
/// dedup, job_finished after a terminal event.
ingest_actor::behavior_type
stand_in(ingest_actor::stateful_pointer<stand_in_state> self,
         std::shared_ptr<ingest_log> log) {
  return {
    [=](publish_atom,
        job_event& ev) -> caf::result<std::string, uint64_t> {
      std::lock_guard guard{log->mtx};
      log->received.push_back(ev);
      auto& ids = self->state.seen_ids[ev.job_id];
      uint64_t seq = 0;
      if (auto i = ids.find(ev.event_id); i != ids.end()) {
        seq = i->second;
      } else {
        if (self->state.finished.count(ev.job_id) > 0)
          return caf::make_error(error_code::job_finished,
                                 "the job has finished");
        seq = ++self->state.last_seq[ev.job_id];
        ids.emplace(ev.event_id, seq);
        ev.seq = seq;
        log->stored.push_back(ev);
        if (is_terminal(ev.type))
          self->state.finished.insert(ev.job_id);
      }
      if (log->drop_replies > 0) {
        --log->drop_replies;
        auto rp = self->make_response_promise<std::string, uint64_t>();
        self->state.withheld.push_back(rp);
        return rp;
      }
      return {ev.job_id, seq};
    },
    [=](attach_atom, std::string& job_id,
        worker_actor& worker) -> caf::result<job_snapshot> {
      std::lock_guard guard{log->mtx};
      log->attached.emplace_back(job_id, worker);
      job_snapshot x;
      x.job_id = job_id;
      x.last_seq = self->state.last_seq[job_id];
      x.status = x.last_seq > 0 ? job_status::running : job_status::pending;
      x.cancel_requested = log->cancel_requested.count(job_id) > 0;
      return x;
    },
    [=](detach_atom, std::string& job_id, worker_actor& worker) {
      std::lock_guard guard{log->mtx};
      log->detached.emplace_back(job_id, worker);
    },
    [=](status_atom, std::string& job_id) -> caf::result<job_snapshot> {
      if (self->state.last_seq.count(job_id) == 0)
        return caf::make_error(error_code::job_not_found, "no such job");
      job_snapshot x;
      x.job_id = job_id;
      x.last_seq = self->state.last_seq[job_id];
      return x;
    },
  };
}

/// Something else published on a port: not jobwire's interface.
using other_actor = caf::typed_actor<caf::replies_to<int32_t>::with<int32_t>>;

other_actor::behavior_type other_impl() {
  return {[](int32_t x) { return x + 1; }};
}

struct pipeline_config : caf::actor_system_config {
  pipeline_config() {
    set("scheduler.max-threads", 2);
    pl::configure(*this);
  }
};

/// The server side: an actor system with the stand-in published on
/// loopback; restartable on the same port.
class stand_in_server {
public:
  explicit stand_in_server(uint16_t port = 0) {
    start(port);
  }

  ~stand_in_server() {
    stop();
  }

  void start(uint16_t port) {
    log = std::make_shared<ingest_log>();
    cfg_ = std::make_unique<pipeline_config>();
    sys_ = std::make_unique<caf::actor_system>(*cfg_);
    ingest = sys_->spawn(stand_in, log);
    // The port may take a moment to become free again after a stop.
    auto deadline = clock_type::now() + 5s;
    for (;;) {
      auto res = sys_->middleman().publish(ingest, port, "127.0.0.1", true);
      if (res) {
        port_ = *res;
        return;
      }
      if (clock_type::now() > deadline)
        BOOST_FAIL("cannot publish the stand-in: " << sys_->render(res.error()));
      std::this_thread::sleep_for(50ms);
    }
  }

  void stop() {
    if (!sys_)
      return;
    caf::anon_send_exit(ingest, caf::exit_reason::user_shutdown);
    ingest = ingest_actor{};
    sys_.reset();
    cfg_.reset();
  }

  void restart() {
    auto port = port_;
    stop();
    start(port);
  }

  uint16_t port() const {
    return port_;
  }

  caf::actor_system& sys() {
    return *sys_;
  }

  std::shared_ptr<ingest_log> log;
  ingest_actor ingest;

private:
  std::unique_ptr<pipeline_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  uint16_t port_ = 0;
};

/// A loopback port that nothing listens on (bound and released at once).
uint16_t unused_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = clock_type::now() + timeout;
  while (!pred()) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

struct fixture {
  fixture() : client_sys(client_cfg) {
    log::init("off");
    settings.port = server.port();
    settings.backoff.initial = 20ms;
    settings.backoff.max = 200ms;
    settings.request_timeout = 2s;
  }

  pl::client connect() {
    auto res = pl::client::connect(client_sys, settings);
    BOOST_REQUIRE_MESSAGE(res, pl::error_text(res));
    return std::move(*res);
  }

  pipeline_config client_cfg;
  caf::actor_system client_sys;
  // Declared after the client's system, so it goes first: the stand-in keeps
  // the workers' handles, and a client system torn down while its peer still
  // holds them hung now and then in CAF's await_detached_threads (about 1
  // run in 10 under load, none in 112 with this order).
  stand_in_server server;
  pl::client_settings settings;
};

job_event progress_event(std::string job_id, double pct) {
  job_event ev;
  ev.type = event_type::progress_update;
  ev.job_id = std::move(job_id);
  ev.stage = "stage_1";
  ev.progress = pct;
  ev.message = "working";
  return ev;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(pipeline_client, fixture)

BOOST_AUTO_TEST_CASE(publish_returns_the_seq_and_sets_event_ids) {
  auto cli = connect();
  BOOST_TEST(cli.connected());
  for (uint64_t i = 1; i <= 3; ++i) {
    auto seq = cli.publish(progress_event("job_a", 10.0 * i));
    BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
    BOOST_TEST(*seq == i);
  }
  auto ids = server.log->with([](ingest_log& x) {
    std::set<std::string> result;
    for (auto& ev : x.received)
      result.insert(ev.event_id);
    return result;
  });
  BOOST_TEST(ids.size() == 3u);
  BOOST_TEST(ids.count("") == 0u);
}

BOOST_AUTO_TEST_CASE(a_retry_after_a_lost_reply_reuses_the_event_id) {
  settings.request_timeout = 300ms;
  auto cli = connect();
  server.log->with([](ingest_log& x) { return x.drop_replies = 1; });
  auto start = clock_type::now();
  auto seq = cli.publish(progress_event("job_b", 5));
  BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
  BOOST_TEST(*seq == 1u);
  BOOST_TEST((clock_type::now() - start >= 300ms)); // it did wait for a reply
  server.log->with([](ingest_log& x) {
    BOOST_REQUIRE_EQUAL(x.received.size(), 2u);
    BOOST_TEST(!x.received[0].event_id.empty());
    BOOST_TEST(x.received[0].event_id == x.received[1].event_id);
    BOOST_TEST(x.stored.size() == 1u);
    return 0;
  });
  // The next event is new.
  auto next = cli.publish(progress_event("job_b", 6));
  BOOST_REQUIRE(next);
  BOOST_TEST(*next == 2u);
}

BOOST_AUTO_TEST_CASE(a_short_request_timeout_still_retries_for_a_while) {
  // Two tries of 100 ms each gave up on a server that did not answer for
  // a fraction of a second; the tries now go on for retry_at_least.
  settings.request_timeout = 100ms;
  settings.request_attempts = 2;
  settings.retry_at_least = 20s; // a bound on a slow machine, not a wait
  auto cli = connect();
  server.log->with([](ingest_log& x) { return x.drop_replies = 6; });
  auto seq = cli.publish(progress_event("job_r", 1));
  BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
  BOOST_TEST(*seq == 1u);
  server.log->with([](ingest_log& x) {
    BOOST_TEST(x.received.size() == 7u); // six unanswered, one answered
    BOOST_TEST(x.stored.size() == 1u);
    return 0;
  });
  // Without the floor, the attempts alone count.
  settings.retry_at_least = 0s;
  auto quick = connect();
  server.log->with([](ingest_log& x) { return x.drop_replies = 6; });
  auto res = quick.publish(progress_event("job_s", 1));
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == caf::sec::request_timeout), pl::error_text(res));
  server.log->with([](ingest_log& x) {
    BOOST_TEST(x.received.size() == 9u);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(a_given_event_id_is_kept) {
  auto cli = connect();
  auto ev = progress_event("job_c", 1);
  ev.event_id = "mine-1";
  auto first = cli.publish(ev);
  auto second = cli.publish(ev);
  BOOST_REQUIRE(first && second);
  BOOST_TEST(*first == *second);
  server.log->with([](ingest_log& x) {
    BOOST_TEST(x.received.size() == 2u);
    BOOST_TEST(x.received[0].event_id == "mine-1");
    BOOST_TEST(x.stored.size() == 1u);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(refusals_are_final) {
  auto cli = connect();
  job_event done;
  done.type = event_type::job_complete;
  done.job_id = "job_d";
  BOOST_REQUIRE(cli.publish(done));
  auto late = cli.publish(progress_event("job_d", 50));
  BOOST_REQUIRE(!late);
  BOOST_TEST((late.error() == error_code::job_finished), pl::error_text(late));
  BOOST_TEST(pl::error_text(late)
             == "job_finished: the job has finished");
  BOOST_TEST(server.log->with([](ingest_log& x) { return x.received.size(); })
             == 2u); // not retried
}

BOOST_AUTO_TEST_CASE(bad_events_are_refused_before_sending) {
  auto cli = connect();
  auto res = cli.publish(progress_event("job_e", 150));
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == error_code::invalid_message), pl::error_text(res));
  job_event bad_results;
  bad_results.type = event_type::job_complete;
  bad_results.job_id = "job_e";
  bad_results.results = "[1,2]";
  res = cli.publish(bad_results);
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == error_code::invalid_message), pl::error_text(res));
  res = cli.publish(progress_event("job with spaces", 1));
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == error_code::invalid_job_id), pl::error_text(res));
  BOOST_TEST(server.log->with([](ingest_log& x) { return x.received.size(); })
             == 0u);
}

BOOST_AUTO_TEST_CASE(results_are_minified) {
  auto cli = connect();
  job_event ev;
  ev.type = event_type::stage_complete;
  ev.job_id = "job_f";
  ev.stage = "s";
  ev.results = "{ \"a\" : [ 1, 2 ],\n \"b\": \"x y\" }";
  BOOST_REQUIRE(cli.publish(ev));
  auto results = server.log->with(
    [](ingest_log& x) { return x.received.at(0).results; });
  BOOST_TEST(results == R"({"a":[1,2],"b":"x y"})");
}

BOOST_AUTO_TEST_CASE(job_handle_publishes_every_event_type) {
  auto cli = connect();
  auto hdl = pl::job_handle::open(cli, "job_g");
  BOOST_REQUIRE_MESSAGE(hdl, pl::error_text(hdl));
  BOOST_TEST(hdl->attached_snapshot().status == job_status::pending);
  hdl->correlation_id("corr-1");
  BOOST_TEST(*hdl->progress("stage_1", 10, "ten") == 1u);
  BOOST_TEST(*hdl->progress("stage_1", 50, "fifty", 12.5) == 2u);
  BOOST_TEST(*hdl->stage_complete("stage_1", R"({"n":1})") == 3u);
  BOOST_TEST(*hdl->complete(R"({"ok":true})") == 4u);
  server.log->with([](ingest_log& x) {
    BOOST_REQUIRE_EQUAL(x.stored.size(), 4u);
    auto& a = x.stored[0];
    BOOST_TEST(a.type == event_type::progress_update);
    BOOST_TEST(a.job_id == "job_g");
    BOOST_TEST(!a.has_eta);
    BOOST_TEST(a.correlation_id == "corr-1");
    auto& b = x.stored[1];
    BOOST_TEST(b.has_eta);
    BOOST_TEST(b.eta_seconds == 12.5);
    BOOST_TEST(b.message == "fifty");
    BOOST_TEST(x.stored[2].type == event_type::stage_complete);
    BOOST_TEST(x.stored[2].results == R"({"n":1})");
    BOOST_TEST(x.stored[3].type == event_type::job_complete);
    std::set<std::string> ids;
    for (auto& ev : x.stored)
      ids.insert(ev.event_id);
    BOOST_TEST(ids.size() == 4u);
    return 0;
  });
  auto failing = pl::job_handle::open(cli, "job_h");
  BOOST_REQUIRE(failing);
  BOOST_TEST(*failing->fail("boom", "it broke", "stage_2") == 1u);
  server.log->with([](ingest_log& x) {
    auto& ev = x.stored.back();
    BOOST_TEST(ev.type == event_type::job_failed);
    BOOST_TEST(ev.error_code == "boom");
    BOOST_TEST(ev.error_message == "it broke");
    BOOST_TEST(ev.error_stage == "stage_2");
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(cancel_requests_reach_the_callback_once) {
  auto cli = connect();
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> reasons;
  std::thread::id callback_thread;
  auto hdl = pl::job_handle::open(cli, "job_i", [&](const std::string& why) {
    std::lock_guard guard{mtx};
    reasons.push_back(why);
    callback_thread = std::this_thread::get_id();
    cv.notify_all();
  });
  BOOST_REQUIRE(hdl);
  BOOST_TEST(!hdl->cancel_requested());
  BOOST_TEST(!hdl->wait_for_cancel(50ms));
  auto worker = server.log->with(
    [](ingest_log& x) { return x.attached.at(0).second; });
  BOOST_TEST((worker == hdl->worker()));
  // The server side sends the cancel request, twice.
  caf::anon_send(worker, cancel_atom::value, std::string{"job_i"},
                 std::string{"user asked"});
  caf::anon_send(worker, cancel_atom::value, std::string{"job_i"},
                 std::string{"again"});
  BOOST_TEST(hdl->wait_for_cancel(5s));
  BOOST_TEST(hdl->cancel_requested());
  BOOST_TEST(hdl->cancel_reason() == "user asked");
  {
    std::unique_lock guard{mtx};
    BOOST_REQUIRE(cv.wait_for(guard, 5s, [&] { return !reasons.empty(); }));
  }
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard guard{mtx};
    BOOST_TEST(reasons.size() == 1u);
    BOOST_TEST(reasons.at(0) == "user asked");
    BOOST_TEST(callback_thread != std::this_thread::get_id());
  }
  auto seq = hdl->cancelled();
  BOOST_REQUIRE(seq);
  server.log->with([](ingest_log& x) {
    BOOST_TEST(x.stored.back().type == event_type::job_cancelled);
    BOOST_TEST(x.stored.back().reason == "user asked");
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(a_handle_holds_no_thread_until_a_cancel_comes) {
  // A pipeline process with many jobs pays a thread per cancelled job, not
  // one per job.
  auto threads = [] {
    size_t n = 0;
    for (auto& x : std::filesystem::directory_iterator{"/proc/self/task"}) {
      static_cast<void>(x);
      ++n;
    }
    return n;
  };
  auto cli = connect();
  constexpr size_t jobs = 20;
  std::atomic<int> called{0};
  auto before = threads();
  std::vector<pl::job_handle> hdls;
  for (size_t i = 0; i < jobs; ++i) {
    auto hdl = pl::job_handle::open(cli, "job_t" + std::to_string(i),
                                    [&](const std::string&) { ++called; });
    BOOST_REQUIRE(hdl);
    hdls.push_back(std::move(*hdl));
  }
  auto open = threads();
  BOOST_TEST(open <= before + 2, before << " threads, then " << open
                                        << " with " << jobs << " handles");
  caf::anon_send(hdls.at(3).worker(), cancel_atom::value,
                 std::string{"job_t3"}, std::string{"one"});
  BOOST_TEST(eventually([&] { return called.load() == 1; }));
  hdls.clear();
  BOOST_TEST(called.load() == 1);
}

BOOST_AUTO_TEST_CASE(the_callback_may_publish_job_cancelled) {
  auto cli = connect();
  std::atomic<uint64_t> seq{0};
  std::optional<pl::job_handle> hdl;
  auto res = pl::job_handle::open(cli, "job_j", [&](const std::string&) {
    if (auto x = hdl->cancelled())
      seq = *x;
  });
  BOOST_REQUIRE(res);
  hdl.emplace(std::move(*res));
  BOOST_REQUIRE(hdl->progress("s", 1, "m"));
  caf::anon_send(hdl->worker(), cancel_atom::value, std::string{"job_j"},
                 std::string{"stop"});
  BOOST_TEST(eventually([&] { return seq.load() == 2u; }));
  hdl.reset(); // waits for nothing: the callback has returned
}

BOOST_AUTO_TEST_CASE(a_cancel_pending_at_attach_reaches_the_worker) {
  auto cli = connect();
  BOOST_REQUIRE(cli.publish(progress_event("job_p", 1)));
  server.log->with(
    [](ingest_log& x) { return x.cancel_requested.insert("job_p"); });
  auto hdl = pl::job_handle::open(cli, "job_p");
  BOOST_REQUIRE(hdl);
  BOOST_TEST(hdl->attached_snapshot().cancel_requested);
  BOOST_TEST(hdl->wait_for_cancel(5s));
  BOOST_TEST(hdl->cancel_reason() == "");
  // Not for a job that has not started (the server cancels those at once).
  server.log->with(
    [](ingest_log& x) { return x.cancel_requested.insert("job_q"); });
  auto other = pl::job_handle::open(cli, "job_q");
  BOOST_REQUIRE(other);
  BOOST_TEST(!other->wait_for_cancel(200ms));
}

BOOST_AUTO_TEST_CASE(destroying_the_handle_detaches_the_worker) {
  auto cli = connect();
  worker_actor worker;
  {
    auto hdl = pl::job_handle::open(cli, "job_k");
    BOOST_REQUIRE(hdl);
    worker = hdl->worker();
  }
  BOOST_TEST(eventually([&] {
    return server.log->with([](ingest_log& x) { return x.detached.size(); })
           == 1u;
  }));
  server.log->with([&](ingest_log& x) {
    BOOST_TEST(x.detached.at(0).first == "job_k");
    BOOST_TEST((x.detached.at(0).second == worker));
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(a_peer_with_another_interface_is_refused_at_once) {
  auto other = server.sys().spawn(other_impl);
  auto port = server.sys().middleman().publish(other, 0, "127.0.0.1");
  BOOST_REQUIRE(port);
  settings.port = *port;
  settings.connect_attempts = 5;
  settings.backoff.initial = 500ms; // a retry would show in the time taken
  auto start = clock_type::now();
  auto res = pl::client::connect(client_sys, settings);
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == caf::sec::unexpected_actor_messaging_interface), pl::error_text(res));
  BOOST_TEST((clock_type::now() - start < 400ms));
  BOOST_TEST(pl::error_text(res)
             == "unexpected_actor_messaging_interface: the peer is not a "
                "jobwire ingest actor");
  caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(connecting_to_a_closed_port_gives_up_after_the_attempts) {
  settings.port = unused_port();
  settings.connect_attempts = 3;
  settings.backoff.initial = 100ms;
  settings.backoff.jitter = 0;
  auto start = clock_type::now();
  auto res = pl::client::connect(client_sys, settings);
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == caf::sec::cannot_connect_to_node), pl::error_text(res));
  BOOST_TEST(pl::is_transient(res.error()));
  // Two pauses: 100 ms and 200 ms.
  BOOST_TEST((clock_type::now() - start >= 300ms));
}

BOOST_AUTO_TEST_CASE(reconnects_and_attaches_the_workers_again) {
  auto cli = connect();
  auto hdl = pl::job_handle::open(cli, "job_l");
  BOOST_REQUIRE(hdl);
  BOOST_REQUIRE(hdl->progress("s", 1, "before"));
  // The server goes away and comes back on the same port.
  server.restart();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return cli.reconnects() == 1u; }, 10s),
                        "no reconnect");
  BOOST_TEST(cli.connected());
  server.log->with([&](ingest_log& x) {
    BOOST_REQUIRE_EQUAL(x.attached.size(), 1u);
    BOOST_TEST(x.attached[0].first == "job_l");
    BOOST_TEST((x.attached[0].second == hdl->worker()));
    return 0;
  });
  // Publishing goes on (the new stand-in starts its seqs afresh).
  auto seq = hdl->progress("s", 2, "after");
  BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
  BOOST_TEST(*seq == 1u);
  // And cancel requests from the new server arrive.
  caf::anon_send(hdl->worker(), cancel_atom::value, std::string{"job_l"},
                 std::string{"after restart"});
  BOOST_TEST(hdl->wait_for_cancel(5s));
}

BOOST_AUTO_TEST_CASE(a_publish_during_an_outage_waits_for_the_reconnect) {
  settings.request_attempts = 8;
  auto cli = connect();
  BOOST_REQUIRE(cli.publish(progress_event("job_m", 1)));
  auto port = server.port();
  server.stop();
  BOOST_REQUIRE(eventually([&] { return !cli.connected(); }));
  std::thread restarter{[&] {
    std::this_thread::sleep_for(300ms);
    server.start(port);
  }};
  auto seq = cli.publish(progress_event("job_m", 2));
  restarter.join();
  BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
  BOOST_TEST(*seq == 1u); // a new stand-in
}

BOOST_AUTO_TEST_CASE(a_publish_whose_link_dies_is_sent_again_without_waiting) {
  // A reply that never comes would hold the publish for this long; the lost
  // link must end the wait instead.
  settings.request_timeout = 60s;
  auto cli = connect();
  server.log->with([](ingest_log& x) { return x.drop_replies = 1; });
  auto first_log = server.log;
  auto publish = std::async(std::launch::async, [&] {
    return cli.publish(progress_event("job_p", 7));
  });
  BOOST_REQUIRE(eventually(
    [&] { return first_log->with([](ingest_log& x) { return !x.received.empty(); }); }));
  server.restart();
  // A liveness bound, far below the request timeout: without the library's
  // own answer to the lost link the publish waits 60 s.
  BOOST_REQUIRE_MESSAGE(publish.wait_for(20s) == std::future_status::ready,
                        "the publish still waits for the reply of a lost link");
  auto seq = publish.get();
  BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
  BOOST_TEST(*seq == 1u); // stored by the new stand-in
  auto sent_first = first_log->with([](ingest_log& x) { return x.received.at(0).event_id; });
  server.log->with([&](ingest_log& x) {
    BOOST_REQUIRE_EQUAL(x.received.size(), 1u);
    BOOST_TEST(x.received[0].event_id == sent_first);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(closing_the_client_ends_a_waiting_publish) {
  settings.request_timeout = 60s;
  auto cli = connect();
  server.log->with([](ingest_log& x) { return x.drop_replies = 1; });
  auto publish = std::async(std::launch::async, [&] {
    return cli.publish(progress_event("job_q", 1));
  });
  BOOST_REQUIRE(eventually(
    [&] { return server.log->with([](ingest_log& x) { return !x.received.empty(); }); }));
  cli.close();
  BOOST_REQUIRE_MESSAGE(publish.wait_for(20s) == std::future_status::ready,
                        "the publish still waits after close");
  auto res = publish.get();
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == caf::sec::request_receiver_down), pl::error_text(res));
  BOOST_TEST(pl::error_text(res).find("closing") != std::string::npos, pl::error_text(res));
}

BOOST_AUTO_TEST_CASE(status_reports_the_snapshot_or_the_error) {
  auto cli = connect();
  auto missing = cli.status("job_n");
  BOOST_REQUIRE(!missing);
  BOOST_TEST((missing.error() == error_code::job_not_found), pl::error_text(missing));
  BOOST_REQUIRE(cli.publish(progress_event("job_n", 3)));
  auto x = cli.status("job_n");
  BOOST_REQUIRE(x);
  BOOST_TEST(x->last_seq == 1u);
}

BOOST_AUTO_TEST_CASE(a_closed_client_fails_calls) {
  auto cli = connect();
  cli.close();
  BOOST_TEST(!cli.connected());
  auto res = cli.publish(progress_event("job_o", 1));
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == caf::sec::cannot_connect_to_node), pl::error_text(res));
}

BOOST_AUTO_TEST_SUITE_END()
