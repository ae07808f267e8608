#pragma once

#include <cstdint>
#include <optional>

namespace jobwire {

/// The process's limit on open file descriptors (RLIMIT_NOFILE).
struct descriptor_limit {
  /// The soft limit before `raise_descriptor_limit` and after it.
  uint64_t before = 0;
  uint64_t now = 0;
  /// The hard limit: how far the process may raise it without privilege.
  uint64_t hard = 0;
};

/// Raises the soft limit to the hard one (to 1,048,576 for a hard limit of
/// "unlimited"). A login shell's soft limit is often 1,024, which a
/// server of 100,000 connections meets at once; the hard limit is what the
/// administrator allowed. None when the limits cannot be read.
std::optional<descriptor_limit> raise_descriptor_limit();

/// Of `limit` descriptors, those that client sockets may take: the rest
/// (256, or a quarter of a small limit) stay for pipelines connecting to
/// the CAF port and for the server's own files. Clients that took them all
/// would lock the pipelines out, and CAF's accept loop spins when it meets
/// the limit.
uint64_t client_descriptors(uint64_t limit);

} // namespace jobwire
