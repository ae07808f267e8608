#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace jobwire {

/// Why a request's body cannot be framed as we read it, and the status
/// that says so; the connection is closed after the answer, since where
/// the next request starts is unknown.
struct framing_refusal {
  unsigned status;
  std::string message;
};

/// Checks a request's Transfer-Encoding (`codings`: every such header's
/// value) against RFC 9112 section 6. We frame a body by Content-Length or
/// by `chunked` alone. A coding list whose last is not `chunked` leaves the
/// body's end unknown (400): read as no body, the body would be taken for
/// the next request, which is how requests are smuggled past a proxy that
/// reads it otherwise. Another coding under `chunked` is one we cannot
/// decode (501). Transfer-Encoding beside Content-Length is a smuggling
/// attempt or a broken client (400).
std::optional<framing_refusal>
check_request_framing(std::span<const std::string_view> codings,
                      bool has_content_length);

} // namespace jobwire
