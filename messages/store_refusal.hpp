#pragma once

#include <cstdint>
#include <string_view>

#include "messages/error_code.hpp"

namespace jobwire {

/// Why the store refused a write, as the registry's commits learn it. The
/// registry answers publishers with it, and `/healthz` and `/metrics` tell
/// operators while it lasts.
enum class store_refusal : uint8_t {
  none,
  /// At --max-map-size.
  full,
  /// ENOSPC, EDQUOT, EFBIG or EIO: a full disk, a quota, or a failing one.
  disk,
  /// Anything else LMDB or the system reported.
  failed,
};

/// The protocol code publishers get: `storage_full`, or `internal`.
error_code to_error_code(store_refusal x);

/// The message publishers get, e.g. "the store is full".
std::string_view message(store_refusal x);

} // namespace jobwire
