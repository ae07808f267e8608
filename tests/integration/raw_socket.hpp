#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwire::test {

/// WebSocket opcodes (RFC 6455, 5.2).
enum class ws_opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// The RFC 6455 example key and its accept value (section 1.3).
constexpr std::string_view rfc_sample_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_sample_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A plain TCP connection to 127.0.0.1 for sending what a proper client never
/// would: hand-built handshakes and frames. Blocking, with bounded waits.
class raw_socket {
public:
  using duration = std::chrono::milliseconds;

  static constexpr duration default_timeout = std::chrono::seconds{5};

  /// A parsed HTTP response head plus a Content-Length body.
  struct http_reply {
    int status = 0;
    /// Header lines as they came, names in lower case.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// The value of header `name` (lower case), or "".
    std::string header(std::string_view name) const;
  };

  /// One frame from the server.
  struct frame {
    bool fin = true;
    ws_opcode opcode = ws_opcode::text;
    bool masked = false;
    std::string payload;

    /// The status code of a close frame, 1005 when it has none.
    uint16_t close_code() const;
  };

  /// How the server ended a WebSocket connection.
  struct close_result {
    /// A close frame arrived (`code` is valid).
    bool close_frame = false;
    uint16_t code = 0;
    std::string reason;
    /// The TCP connection ended (EOF or reset).
    bool eof = false;
    /// Data frames before the close frame.
    std::vector<frame> before;

    std::string to_string() const;
  };

  // -- constructors, destructors ----------------------------------------------

  raw_socket() = default;
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  /// Connects to 127.0.0.1:`port`; throws on failure.
  void connect(uint16_t port);

  /// Connects from `source` (a loopback address such as "127.0.0.2")
  /// instead of 127.0.0.1, as another client would.
  void connect_from(const char* source, uint16_t port);

  /// Closes the socket.
  void close();

  /// Sets SO_RCVBUF to `bytes` on the sockets `connect` opens from now on
  /// (before the TCP handshake, so the window stays small); 0: the default.
  void set_receive_buffer(int bytes) {
    rcvbuf_ = bytes;
  }

  /// Ends the sending side (shutdown SHUT_WR): the peer reads EOF, replies
  /// can still be read.
  void shutdown_send();

  /// Resets the connection (SO_LINGER 0, then close): the peer sees RST,
  /// not an orderly FIN.
  void abort();

  /// The descriptor, -1 when closed.
  int fd() const {
    return fd_;
  }

  // -- bytes ------------------------------------------------------------------

  /// Sends all of `bytes`; false when the peer closed or reset.
  bool send(std::string_view bytes);

  /// Whether data or EOF can be read within `timeout`.
  bool readable(duration timeout);

  /// Reads until the peer closes the connection or `timeout` passes;
  /// returns whether it closed (data read meanwhile is dropped).
  bool wait_eof(duration timeout = default_timeout);

  /// Whether the peer closed the connection (EOF or reset) as seen so far.
  bool eof() const {
    return eof_;
  }

  // -- HTTP -------------------------------------------------------------------

  /// Reads one response head and its Content-Length body.
  std::optional<http_reply> read_http_reply(duration timeout = default_timeout);

  /// Sends a WebSocket upgrade request for `path` with `key` (the
  /// Sec-WebSocket-Key header is left out when `key` is nullopt) and reads the
  /// response.
  std::optional<http_reply>
  handshake(uint16_t port_for_host, std::string_view path = "/v1/ws",
            std::optional<std::string_view> key = rfc_sample_key,
            duration timeout = default_timeout);

  // -- WebSocket frames -------------------------------------------------------

  /// Builds a client frame, masked unless told otherwise.
  static std::string make_frame(ws_opcode opcode, std::string_view payload,
                                bool fin = true, bool masked = true);

  /// Sends one frame; false when the peer closed or reset.
  bool send_frame(ws_opcode opcode, std::string_view payload, bool fin = true);

  /// Reads one frame; nothing on timeout or EOF.
  std::optional<frame> read_frame(duration timeout = default_timeout);

  /// Reads frames until a close frame, EOF or timeout, and then waits for
  /// the TCP close.
  close_result read_close(duration timeout = default_timeout);

private:
  // Reads more bytes into `buf_`; false on timeout or EOF.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  int rcvbuf_ = 0;
  std::string buf_;
  bool eof_ = false;
};

/// A loopback port that nothing listens on (bound and released at once),
/// for a server that must come back on the same port.
uint16_t unused_port();

} // namespace jobwire::test
