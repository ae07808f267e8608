#pragma once

#include <chrono>
#include <string>

namespace jobwire {

/// Reads every record of the LMDB store in `dir` in a child process. LMDB
/// keeps no checksums: bytes damaged inside data.mdb (a bad disk, a copy
/// gone wrong) crashed the server at the first read of a damaged page, in
/// the middle of serving. Read here, they stop it at start with a message.
/// Fork-based: call before any thread starts.
struct store_check {
  enum outcome {
    /// Every record read.
    whole,
    /// No store yet: nothing to read.
    nothing_stored,
    damaged,
    /// Stopped after the timeout (a large store on a slow disk, not
    /// damage), or could not start.
    unfinished,
  } what = whole;
  /// What went wrong, naming the file.
  std::string message;
};

store_check check_store_reads(const std::string& dir,
                              std::chrono::milliseconds timeout);

} // namespace jobwire
