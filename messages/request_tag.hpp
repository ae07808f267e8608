#pragma once

#include <string>
#include <utility>

#include "caf/meta/type_name.hpp"

namespace jobwire {

/// A command's `request_id`, which its replies echo. Absent and "" differ:
/// PROTOCOL.md echoes it "when the command had one", and "" is one.
struct request_tag {
  std::string text;
  bool given = false;

  request_tag() = default;

  /// A tag the command carried, as given.
  request_tag(std::string id) : text(std::move(id)), given(true) {
    // nop
  }

  request_tag(const char* id) : text(id), given(true) {
    // nop
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_tag& x) {
  return f(caf::meta::type_name("request_tag"), x.text, x.given);
}

} // namespace jobwire
