#include "actors/registry_actor.hpp"

#include "caf/all.hpp"

#include "actors/job_actor.hpp"
#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;

/// The entry of `job_id`, or null.
job_entry* find(self_ptr self, const std::string& job_id) {
  auto i = self->state.jobs.find(job_id);
  return i == self->state.jobs.end() ? nullptr : &i->second;
}

job_entry& find_or_spawn(self_ptr self, const std::string& job_id) {
  auto [i, added] = self->state.jobs.try_emplace(job_id);
  if (added) {
    i->second.handle = self->spawn(job_impl, job_id,
                                   caf::actor_cast<registry_actor>(self));
    self->monitor(i->second.handle);
  }
  return i->second;
}

caf::error not_found(const std::string& job_id) {
  return caf::make_error(error_code::job_not_found,
                         "job '" + job_id + "' has no events yet");
}

} // namespace

registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self) {
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& jobs = self->state.jobs;
    for (auto i = jobs.begin(); i != jobs.end(); ++i)
      if (i->second.handle.address() == dm.source) {
        jobs.erase(i);
        return;
      }
  });
  return {
    [self](publish_atom, job_event& ev) {
      auto& job = find_or_spawn(self, ev.job_id);
      ++job.routed;
      return self->delegate(job.handle, publish_atom::value, std::move(ev));
    },
    [self](command_atom, client_command& cmd, connection_actor& who,
           std::string& conn_id) {
      auto* job = cmd.type == command_type::subscribe
                    ? &find_or_spawn(self, cmd.job_id)
                    : find(self, cmd.job_id);
      if (job != nullptr) {
        ++job->routed;
        self->send(job->handle, command_atom::value, std::move(cmd),
                   std::move(who), std::move(conn_id));
        return;
      }
      // No such job in memory: answer as the job would.
      auto now = unix_now_ms();
      std::string text;
      if (cmd.type == command_type::unsubscribe) {
        text = encode_unsubscribed(cmd.job_id, cmd.request_id, now);
      } else {
        auto err = not_found(cmd.job_id);
        text = encode_error(error_code::job_not_found, error_message(err),
                            cmd.request_id, cmd.job_id, now);
      }
      self->send(who, frame_atom::value, make_frame(std::move(text)));
    },
    [self](status_atom,
           std::string& job_id) -> caf::result<job_snapshot> {
      auto* job = find(self, job_id);
      if (job == nullptr)
        return not_found(job_id);
      ++job->routed;
      return self->delegate(job->handle, status_atom::value,
                            std::move(job_id));
    },
    [self](cancel_atom, std::string& job_id,
           std::string& reason) -> caf::result<job_snapshot> {
      auto* job = find(self, job_id);
      if (job == nullptr)
        return not_found(job_id);
      ++job->routed;
      return self->delegate(job->handle, cancel_atom::value, std::move(job_id),
                            std::move(reason));
    },
    [self](conns_atom, std::string& job_id)
      -> caf::result<std::vector<std::string>> {
      auto* job = find(self, job_id);
      if (job == nullptr)
        return std::vector<std::string>{};
      ++job->routed;
      return self->delegate(job->handle, conns_atom::value, std::move(job_id));
    },
    [self](idle_atom, const std::string& job_id, uint64_t handled) {
      // Stop the job only if no routed message is still on its way to it.
      auto* job = find(self, job_id);
      if (job != nullptr && job->routed == handled) {
        self->demonitor(job->handle.address());
        self->send_exit(job->handle, caf::exit_reason::user_shutdown);
        self->state.jobs.erase(job_id);
      }
    },
  };
}

} // namespace jobwire
