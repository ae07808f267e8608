#pragma once

#include <string>

namespace jobwire::pipeline {

/// Loads the PEM files of `--caf-tls-cert`, `--caf-tls-key` and
/// `--caf-tls-ca` into a TLS context as CAF's OpenSSL module does for each
/// connection, so that a program can refuse them at start: CAF loads them
/// only when a peer connects, and throws then. Returns "" when they are
/// usable, else a sentence that names the option and file at fault and says
/// why (e.g. `--caf-tls-key=k.pem does not match --caf-tls-cert=c.pem`).
std::string check_tls_files(const std::string& certificate,
                            const std::string& key, const std::string& ca_file);

} // namespace jobwire::pipeline
