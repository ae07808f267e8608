#include "actors/ingest_actor.hpp"

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/identifiers.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"

namespace jobwire {

namespace {

caf::error invalid_job_id(const std::string& job_id) {
  return caf::make_error(error_code::invalid_job_id,
                         "job id '" + job_id.substr(0, max_id_length)
                           + "' must be 1 to 128 characters of A-Z a-z 0-9 "
                             ". _ : -");
}

/// The bytes of an event's text fields: what its JSON needs, less the
/// syntax and numbers.
size_t text_bytes(const job_event& ev) {
  return ev.stage.size() + ev.message.size() + ev.results.size()
         + ev.error_code.size() + ev.error_message.size()
         + ev.error_stage.size() + ev.reason.size() + ev.correlation_id.size()
         + ev.event_id.size();
}

} // namespace

ingest_actor::behavior_type
ingest_impl(ingest_actor::stateful_pointer<ingest_state> self,
            directory_actor directory, size_t max_pending,
            size_t max_event_bytes) {
  self->state.directory = std::move(directory);
  self->state.max_pending = max_pending;
  self->state.max_event_bytes = max_event_bytes;
  return {
    [self](publish_atom, job_event& ev)
      -> caf::result<std::string, uint64_t> {
      if (!is_valid_job_id(ev.job_id))
        return invalid_job_id(ev.job_id);
      if (auto bytes = text_bytes(ev); bytes > self->state.max_event_bytes)
        return caf::make_error(error_code::message_too_large,
                               "the event's text is " + std::to_string(bytes)
                                 + " bytes, larger than "
                                 + std::to_string(self->state.max_event_bytes)
                                 + " (--max-message-bytes)");
      // Typed events never met the JSON parser: check their fields here.
      if (auto err = validate_event(ev)) {
        log::info("publish refused", {{"job_id", ev.job_id},
                                      {"reason", error_message(err)}});
        return err;
      }
      auto& st = self->state;
      if (st.pending >= st.max_pending)
        return caf::make_error(error_code::rate_limited,
                               std::to_string(st.pending)
                                 + " publishes are waiting to be stored; "
                                   "retry later");
      // A publisher's seq and timestamp are the server's to set.
      ev.seq = 0;
      ev.timestamp_ms = 0;
      auto rp = self->make_response_promise<std::string, uint64_t>();
      auto job_id = ev.job_id;
      ++st.pending;
      self->request(st.directory, caf::infinite, publish_atom::value,
                    std::move(ev))
        .then(
          [self, rp, job_id](uint64_t seq) mutable {
            --self->state.pending;
            rp.deliver(job_id, seq);
          },
          [self, rp](caf::error& err) mutable {
            --self->state.pending;
            rp.deliver(std::move(err));
          });
      return rp;
    },
    [self](attach_atom, std::string& job_id,
           worker_actor& worker) -> caf::result<job_snapshot> {
      if (!is_valid_job_id(job_id))
        return invalid_job_id(job_id);
      return self->delegate(self->state.directory, attach_atom::value,
                            std::move(job_id), std::move(worker));
    },
    [self](detach_atom, std::string& job_id, worker_actor& worker) {
      if (is_valid_job_id(job_id))
        self->send(self->state.directory, detach_atom::value,
                   std::move(job_id), std::move(worker));
    },
    [self](status_atom, std::string& job_id) -> caf::result<job_snapshot> {
      if (!is_valid_job_id(job_id))
        return invalid_job_id(job_id);
      return self->delegate(self->state.directory, status_atom::value,
                            std::move(job_id));
    },
  };
}

} // namespace jobwire
