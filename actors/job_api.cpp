#include "actors/job_api.hpp"

#include <chrono>

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"

namespace jobwire {

namespace {

// Long enough for any healthy server; a request still open after it means a
// stuck actor, and the client should hear about it.
constexpr auto request_timeout = std::chrono::seconds(30);

} // namespace

api_response error_response(const caf::error& err) {
  auto code = to_error_code(err);
  auto message = error_message(err);
  if (code == error_code::internal) {
    log::error("request failed", {{"reason", caf::to_string(err)}});
    message = "the server could not complete the request";
  }
  return {http_status(code), encode_http_error(code, message)};
}

job_api::job_api(caf::actor_system& sys, directory_actor directory)
  : sys_(sys), directory_(std::move(directory)) {
  // nop
}

namespace {

/// Asks the directory `xs...` from a short-lived actor (code outside
/// actors cannot wait for replies): `on_ok` gets the answer, errors become
/// their HTTP response.
template <class OnOk, class... Ts>
void ask(caf::actor_system& sys, const directory_actor& dir,
         const api_callback& cb, OnOk on_ok, Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(dir, request_timeout, xs...)
      .then(on_ok, [cb](caf::error& err) { cb(error_response(err)); });
  });
}

} // namespace

void job_api::publish(job_event ev, api_callback cb) const {
  auto job_id = ev.job_id;
  ask(sys_, directory_, cb,
      [job_id, cb](uint64_t seq) {
        cb({202, encode_publish_ack(job_id, seq)});
      },
      publish_atom::value, std::move(ev));
}

void job_api::status(std::string job_id, api_callback cb) const {
  ask(sys_, directory_, cb,
      [cb](const job_snapshot& snap) { cb({200, encode_snapshot(snap)}); },
      status_atom::value, std::move(job_id));
}

void job_api::cancel(std::string job_id, std::string reason,
                     api_callback cb) const {
  ask(sys_, directory_, cb,
      [cb](const job_snapshot& snap) { cb({202, encode_snapshot(snap)}); },
      cancel_atom::value, std::move(job_id), std::move(reason));
}

void job_api::connections(std::string job_id, api_callback cb) const {
  ask(sys_, directory_, cb,
      [job_id, cb](const std::vector<std::string>& ids) {
        cb({200, encode_connections(job_id, ids)});
      },
      conns_atom::value, job_id);
}

} // namespace jobwire
