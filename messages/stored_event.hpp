#pragma once

#include <cstdint>
#include <string>

#include "caf/meta/type_name.hpp"

namespace jobwire {

/// An event on its way to the store: its seq, the JSON every subscriber
/// receives, and the publisher's event id (may be empty).
struct stored_event {
  uint64_t seq = 0;
  std::string json;
  std::string event_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_event& x) {
  return f(caf::meta::type_name("stored_event"), x.seq, x.json, x.event_id);
}

} // namespace jobwire
