#include "actors/connection_actor.hpp"

#include "caf/all.hpp"

#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

using self_ptr = connection_actor::stateful_pointer<connection_state>;

void send_text(self_ptr self, std::string text) {
  if (auto sink = self->state.sink.lock())
    sink->send(make_frame(std::move(text)));
}

void reply_error(self_ptr self, const client_command& cmd, error_code code,
                 std::string_view message) {
  log::debug("command refused", {{"connection_id", self->state.connection_id},
                                 {"job_id", cmd.job_id},
                                 {"request_id", cmd.request_id},
                                 {"code", to_string(code)},
                                 {"reason", message}});
  send_text(self, encode_error(code, message, cmd.request_id, cmd.job_id,
                               unix_now_ms()));
}

void route(self_ptr self, client_command& cmd) {
  self->send(self->state.registry, command_atom::value, std::move(cmd),
             caf::actor_cast<connection_actor>(self),
             self->state.connection_id);
}

void handle(self_ptr self, client_command& cmd) {
  auto& st = self->state;
  switch (cmd.type) {
    case command_type::invalid:
      reply_error(self, cmd, cmd.error, cmd.error_message);
      break;
    case command_type::ping:
      send_text(self, encode_pong(cmd.request_id, unix_now_ms()));
      break;
    case command_type::resume:
      // Connection records arrive with the persistence layer; until then no
      // earlier connection can be resumed.
      reply_error(self, cmd, error_code::connection_not_found,
                  "connection '" + cmd.connection_id
                    + "' is unknown or has expired");
      break;
    case command_type::subscribe:
      if (!st.subscriptions.contains(cmd.job_id)
          && st.subscriptions.size() >= st.settings.max_subscriptions) {
        reply_error(self, cmd, error_code::too_many_subscriptions,
                    "a connection may follow at most "
                      + std::to_string(st.settings.max_subscriptions)
                      + " jobs");
        break;
      }
      st.subscriptions.insert(cmd.job_id);
      route(self, cmd);
      break;
    case command_type::unsubscribe:
      st.subscriptions.erase(cmd.job_id);
      route(self, cmd);
      break;
    case command_type::cancel_job:
    case command_type::request_status:
      route(self, cmd);
      break;
  }
}

} // namespace

connection_actor::behavior_type
connection_impl(connection_actor::stateful_pointer<connection_state> self,
                std::weak_ptr<frame_sink> sink, std::string connection_id,
                registry_actor registry, connection_settings settings) {
  auto& st = self->state;
  st.sink = std::move(sink);
  st.connection_id = std::move(connection_id);
  st.registry = std::move(registry);
  st.settings = settings;
  send_text(self, encode_connected(st.connection_id,
                                   st.settings.heartbeat_seconds,
                                   unix_now_ms()));
  log::info("connection opened", {{"connection_id", st.connection_id}});
  return {
    [self](command_atom, client_command& cmd) { handle(self, cmd); },
    [self](frame_atom, frame_ptr& frame) {
      if (auto sink = self->state.sink.lock())
        sink->send(std::move(frame));
    },
    [self](closed_atom) {
      log::info("connection closed",
                {{"connection_id", self->state.connection_id}});
      self->quit();
    },
  };
}

} // namespace jobwire
