#include "messages/register_types.hpp"

#include "caf/actor_system_config.hpp"

#include "messages/client_command.hpp"
#include "messages/error_code.hpp"
#include "messages/ingest.hpp"
#include "messages/interfaces.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"
#include "messages/records.hpp"
#include "messages/stored_event.hpp"

namespace jobwire {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<job_event>("jobwire::job_event");
  cfg.add_message_type<job_snapshot>("jobwire::job_snapshot");
  cfg.add_message_type<client_command>("jobwire::client_command");
  cfg.add_message_type<stored_event>("jobwire::stored_event");
  cfg.add_message_type<std::vector<stored_event>>(
    "std::vector<jobwire::stored_event>");
  cfg.add_message_type<followed_job>("jobwire::followed_job");
  cfg.add_message_type<connection_record>("jobwire::connection_record");
  cfg.add_message_type<job_record>("jobwire::job_record");
  cfg.add_message_type<std::vector<std::string>>("std::vector<std::string>");
  cfg.add_message_type<connection_actor>("jobwire::connection_actor");
  cfg.add_message_type<job_actor>("jobwire::job_actor");
  cfg.add_message_type<worker_actor>("jobwire::worker_actor");
  cfg.add_message_type<ingest_actor>("jobwire::ingest_actor");
  cfg.add_message_type<directory_actor>("jobwire::directory_actor");
  cfg.add_message_type<registry_actor>("jobwire::registry_actor");
  cfg.add_error_category(
    caf::atom("jobwire"),
    [](uint8_t code, caf::atom_value, const caf::message& ctx) {
      std::string out{to_string(static_cast<error_code>(code))};
      if (ctx.size() >= 1 && ctx.match_element<std::string>(0)) {
        out += ": ";
        out += ctx.get_as<std::string>(0);
      }
      return out;
    });
}

} // namespace jobwire
