// Boost's assertion handler in debug builds (BOOST_ENABLE_ASSERT_DEBUG_HANDLER,
// set for net/ and what links it; release builds check nothing, as before).
// Every failed BOOST_ASSERT aborts as the default one does, but one.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <boost/assert.hpp>

namespace boost {

void assertion_failed(const char* expr, const char* function, const char* file,
                      long line) {
  // Beast 1.81's chunked-body parser asserts `n >= 5` when the final chunk
  // ("0\r\n") came in one read and only one more byte in the next, which any
  // client sending slowly can cause. The code after the assertion handles
  // that case (it asks for more bytes; a cut request is answered 400), so a
  // debug or sanitizer build must not let a client stop it there.
  if (std::string_view{expr} == "n >= 5"
      && std::string_view{file}.ends_with("beast/http/impl/basic_parser.ipp"))
    return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line,
               function, expr);
  std::abort();
}

void assertion_failed_msg(const char* expr, const char* msg,
                          const char* function, const char* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line,
               function, expr, msg);
  std::abort();
}

} // namespace boost
