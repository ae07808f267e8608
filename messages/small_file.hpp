#pragma once

#include <cstddef>
#include <string>

namespace jobwire {

/// How `read_small_file` went.
enum class small_file_read { ok, unreadable, too_large };

/// Reads all of `path` into `text`, stopping past `max_bytes`: files the
/// programs read whole (a secret, a config, PEM files) are small, and one
/// named by mistake (/dev/zero, a log) must not be read without end.
small_file_read read_small_file(const std::string& path, size_t max_bytes,
                                std::string& text);

} // namespace jobwire
