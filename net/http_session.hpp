#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "actors/job_api.hpp"
#include "net/http_header.hpp"
#include "net/server_context.hpp"

namespace jobwire {

/// One HTTP/1.1 connection, with keep-alive and pipelining: while
/// publishes are with the actors it reads and sends on the publishes
/// behind them (up to `max_pipelined`); any other request waits until the
/// requests before it are answered. Answers go in request order. All of a
/// connection's requests go through the same bridge actor, so its
/// publishes to one job are stored in the order sent. A WebSocket upgrade
/// on /v1/ws goes to a ws_session.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  /// Requests read and not yet answered, at most; then reading waits.
  static constexpr size_t max_pipelined = 16;

  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response
    = boost::beast::http::response<boost::beast::http::string_body>;

  /// `peer` is the client's address, counted for it in `ctx` by the
  /// listener; the session uncounts it when it goes.
  http_session(boost::asio::ip::tcp::socket&& socket, server_context& ctx,
               std::string peer);

  ~http_session();

  void run();

private:
  void do_read();
  /// Reads a request: until its head is whole in `buffer_`, within the
  /// header limit, before Beast parses it (Beast 1.81's header limit bounds
  /// only what one read leaves unparsed, so a head of many short lines
  /// passed it); then the body, counting every byte of the message.
  void read_request();
  void read_more();
  /// Tells a client that waits with `Expect: 100-continue` to send its
  /// body (RFC 9110 10.1.1), once its head is read.
  /// Answers a request whose body cannot be framed (Transfer-Encoding) and
  /// ends the connection; false when the framing is fine.
  bool refuse_unframed();
  void send_continue();
  void on_read_some(boost::beast::error_code ec, std::size_t bytes);
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void open_slot();
  /// Handles `req` in a new slot, then reads on.
  void dispatch(request req);
  void handle(request req);
  void upgrade(request req);
  /// Whether `req`'s Origin (if any) may go on; a refusal is audited.
  bool origin_allowed(const request& req);
  /// Answers from an actor thread: hops onto this session's strand.
  api_callback reply_later(unsigned version, bool keep_alive);
  /// Answers the request being handled.
  void reply(unsigned status, std::string body, unsigned version,
             bool keep_alive, std::string_view allow = {},
             std::string_view content_type = "application/json",
             std::span<const http_header> headers = {});
  /// Fills the answer slot `slot_id` and writes what is ready in order;
  /// `headers` go with it besides Server, Content-Type and Allow. The answer
  /// to a HEAD (`head`) keeps the body's Content-Length but not the body.
  void answer(uint64_t slot_id, bool head, unsigned status, std::string body,
              unsigned version, bool keep_alive, std::string_view allow = {},
              std::string_view content_type = "application/json",
              std::span<const http_header> headers = {});
  void write_ready();
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t);
  void do_close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  server_context& ctx_;
  std::optional<boost::beast::http::request_parser<
    boost::beast::http::string_body>>
    parser_;
  /// Answers owed, oldest first, each empty until it is known;
  /// `first_slot_` numbers the front one.
  std::deque<std::shared_ptr<response>> slots_;
  uint64_t first_slot_ = 0;
  /// Bytes of `buffer_` already searched for the end of the head.
  size_t head_scanned_ = 0;
  /// Bytes of the request being read that the parser has taken.
  size_t message_bytes_ = 0;
  /// The request being read was looked at for `Expect: 100-continue`.
  bool continue_checked_ = false;
  /// The slot of the request being handled.
  uint64_t current_ = 0;
  /// The request being handled is a HEAD of a GET endpoint.
  bool head_ = false;
  bool reading_ = false;
  bool writing_ = false;
  /// A request without keep-alive (or an error) ends the connection: no
  /// more reads.
  bool last_read_ = false;
  /// A request that waits until every earlier one is answered.
  std::optional<request> deferred_;
  /// The bridge this connection's requests go through.
  size_t bridge_;
  std::string peer_;
};

} // namespace jobwire
