#pragma once

// The test process as a pipeline: an actor system of its own with CAF's
// network layer, and a jobwire_pipeline client connected to a jobwire.

#include <boost/test/unit_test.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/expected.hpp"

#include "messages/log.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"

namespace jobwire::test {

/// Two scheduler threads, as a small pipeline process has.
struct pipeline_config : caf::actor_system_config {
  pipeline_config() {
    set("scheduler.max-threads", 2);
    pipeline::configure(*this);
  }
};

/// Connects on construction (the test fails when it cannot); the client
/// goes before the actor system, as in a process that ends.
class local_pipeline {
public:
  explicit local_pipeline(pipeline::client_settings settings)
    : sys_{init_logging_off(cfg_)},
      cli_{pipeline::client::connect(sys_, std::move(settings))} {
    BOOST_REQUIRE_MESSAGE(cli_, pipeline::error_text(cli_));
  }

  /// A client of the CAF port `caf_port` on loopback, default settings.
  explicit local_pipeline(uint16_t caf_port)
    : local_pipeline(settings_for(caf_port)) {
    // nop
  }

  pipeline::client& client() {
    return *cli_;
  }

  caf::actor_system& system() {
    return sys_;
  }

  static pipeline::client_settings settings_for(uint16_t caf_port) {
    pipeline::client_settings result;
    result.port = caf_port;
    return result;
  }

private:
  // The library logs through spdlog; the tests read jobwire's log instead.
  static pipeline_config& init_logging_off(pipeline_config& cfg) {
    log::init("off");
    return cfg;
  }

  pipeline_config cfg_;
  caf::actor_system sys_;
  caf::expected<pipeline::client> cli_;
};

} // namespace jobwire::test
