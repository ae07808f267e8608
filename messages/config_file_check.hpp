#pragma once

#include <string>

#include "caf/config_option_set.hpp"

namespace jobwire {

/// Checks the config file (CAF's INI format) before CAF reads it: CAF 0.17
/// silently drops a key it does not know and a value of the wrong type or
/// out of its type's range, so a slip in the file (`auth-secret-file` as a
/// list) ran the server on a default (without auth). Every key must be an
/// option of `options`, every value one it takes, and no number may lead
/// with a 0 (CAF reads it as octal). `explicit_path`: the file was named
/// with --config-file, so it must exist; the default one may be absent.
/// Returns what is wrong with the first bad entry, naming the file and key,
/// or "" when all are fine.
std::string check_config_file(const caf::config_option_set& options,
                              const std::string& path, bool explicit_path);

/// The file `--config-file=` names among the arguments, else CAF's default
/// (`caf-application.ini`); `explicit_path` says which.
std::string config_file_argument(int argc, char** argv, bool& explicit_path);

} // namespace jobwire
