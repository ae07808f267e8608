#include "jobwire_bench/caf_link.hpp"

#include <chrono>
#include <optional>

#include <sys/eventfd.h>
#include <unistd.h>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/ingest.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"

namespace jobwire::bench {

// -- answer_box -------------------------------------------------------------------

answer_box::answer_box() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
}

answer_box::~answer_box() {
  if (fd_ >= 0)
    close(fd_);
}

void answer_box::put(caf_answer a) {
  bool was_empty = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    was_empty = answers_.empty();
    answers_.push_back(std::move(a));
  }
  // One wake-up per batch: the worker takes them all at once.
  if (was_empty) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(fd_, &one, sizeof(one));
  }
}

std::vector<caf_answer> answer_box::take() {
  uint64_t count = 0;
  [[maybe_unused]] auto n = read(fd_, &count, sizeof(count));
  std::vector<caf_answer> out;
  std::lock_guard<std::mutex> guard{mtx_};
  out.swap(answers_);
  return out;
}

// -- caf_link ---------------------------------------------------------------------

namespace {

struct link_config : caf::actor_system_config {
  link_config() {
    pipeline::configure(*this);
    // The benchmark's own thread does the sockets; CAF needs little, and
    // must not take the benchmark's core polling for work.
    set("scheduler.max-threads", 1);
    set("work-stealing.moderate-poll-attempts", 0);
  }
};

/// One publisher's actor: each event becomes a request to the ingest actor.
/// The handle is asked for each time: after the client reconnects (a server
/// restart) it is a new one, and while the link is down requests fail. A
/// request lost with a dead server is answered by its timeout.
caf::behavior relay_actor(caf::event_based_actor* self,
                          pipeline::client client,
                          std::shared_ptr<answer_box> box) {
  return {
    [=](job_event& ev, size_t job, uint64_t sent_ns) {
      self
        ->request(client.ingest(), std::chrono::seconds{10},
                  publish_atom::value, std::move(ev))
        .then(
          [=](const std::string&, uint64_t seq) {
            box->put({job, sent_ns, seq, {}});
          },
          [=](caf::error& err) {
            box->put({job, sent_ns, 0, pipeline::error_text(err)});
          });
    },
  };
}

class actor_relay final : public caf_link::relay {
public:
  explicit actor_relay(caf::actor a) : actor_(std::move(a)) {
  }

  ~actor_relay() override {
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
  }

  void publish(const std::string& job_id, double progress,
               std::string message, size_t job, uint64_t sent_ns) override {
    job_event ev;
    ev.type = event_type::progress_update;
    ev.job_id = job_id;
    ev.stage = "bench";
    ev.progress = progress;
    ev.message = std::move(message);
    ev.has_eta = true;
    ev.eta_seconds = 5;
    caf::anon_send(actor_, std::move(ev), job, sent_ns);
  }

private:
  caf::actor actor_;
};

} // namespace

struct caf_link::impl {
  link_config cfg;
  std::optional<caf::actor_system> sys;
  std::optional<pipeline::client> client;
};

caf_link::caf_link(std::unique_ptr<impl> x) : impl_(std::move(x)) {
}

caf_link::~caf_link() {
  if (impl_->client)
    impl_->client->close();
}

std::unique_ptr<caf_link> caf_link::open(const std::string& host,
                                         uint16_t port, std::string& error) {
  auto x = std::make_unique<impl>();
  x->sys.emplace(x->cfg);
  pipeline::client_settings settings;
  settings.host = host;
  settings.port = port;
  settings.connect_attempts = 2;
  auto c = pipeline::client::connect(*x->sys, settings);
  if (!c) {
    error = "cannot reach jobwire's CAF port " + host + ":"
            + std::to_string(port) + ": " + pipeline::error_text(c.error());
    return nullptr;
  }
  x->client.emplace(std::move(*c));
  return std::unique_ptr<caf_link>{new caf_link(std::move(x))};
}

std::unique_ptr<caf_link::relay>
caf_link::make_relay(std::shared_ptr<answer_box> box) {
  auto a = impl_->sys->spawn(relay_actor, *impl_->client, std::move(box));
  return std::make_unique<actor_relay>(std::move(a));
}

} // namespace jobwire::bench
