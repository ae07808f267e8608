#pragma once

#include <memory>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "actors/job_api.hpp"
#include "net/server_context.hpp"

namespace jobwire {

/// One HTTP/1.1 connection: answers the API one request at a time, with
/// keep-alive, and hands a WebSocket upgrade on /v1/ws to a ws_session.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response
    = boost::beast::http::response<boost::beast::http::string_body>;

  http_session(boost::asio::ip::tcp::socket&& socket, server_context& ctx);

  ~http_session();

  void run();

private:
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle(request req);
  void upgrade(request req);
  /// Answers from an actor thread: hops onto this session's strand.
  api_callback reply_later(unsigned version, bool keep_alive);
  void reply(unsigned status, std::string body, unsigned version,
             bool keep_alive, std::string_view allow = {},
             std::string_view content_type = "application/json");
  void do_write();
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t);
  void do_close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  server_context& ctx_;
  std::optional<boost::beast::http::request_parser<
    boost::beast::http::string_body>>
    parser_;
  std::shared_ptr<response> res_;
};

} // namespace jobwire
