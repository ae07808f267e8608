#include "net/http_session.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "actors/access.hpp"
#include "actors/metrics.hpp"
#include "messages/error_code.hpp"
#include "messages/identifiers.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"
#include "messages/cancel_request.hpp"
#include "net/http_route.hpp"
#include "net/request_framing.hpp"
#include "net/watch_page.hpp"
#include "net/websocket_key.hpp"
#include "net/ws_session.hpp"

namespace jobwire {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

/// The token of a request: `Authorization: Bearer ...`, or `?token=` (what
/// a browser's WebSocket can send).
std::string bearer_token(const http_session::request& req) {
  auto auth = req[http::field::authorization];
  constexpr std::string_view prefix = "Bearer ";
  if (auth.size() > prefix.size()
      && beast::iequals(auth.substr(0, prefix.size()), prefix))
    return std::string{auth.substr(prefix.size())};
  auto target = req.target();
  auto q = target.find('?');
  if (q == std::string_view::npos)
    return {};
  std::string_view query{target.data() + q + 1, target.size() - q - 1};
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    // URL encoders may escape a token's '.', '-' or '_'.
    if (pair.starts_with("token="))
      return percent_decoded(pair.substr(6));
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
  }
  return {};
}

/// RFC 6750's challenge for a 401: what to send, and that what was sent
/// (if anything) is no good.
std::array<http_header, 1> bearer_challenge(const http_session::request& req) {
  auto sent = !bearer_token(req).empty();
  return {http_header{"WWW-Authenticate",
                      sent ? R"(Bearer realm="jobwire", error="invalid_token")"
                           : R"(Bearer realm="jobwire")"}};
}

} // namespace

http_session::http_session(asio::ip::tcp::socket&& socket, server_context& ctx,
                           std::string peer)
  : stream_(std::move(socket)),
    ctx_(ctx),
    bridge_(ctx.api.pick_bridge()),
    peer_(std::move(peer)) {
  ++ctx_.http_sessions;
}

http_session::~http_session() {
  --ctx_.http_sessions;
  ctx_.http_sessions_by_address.remove(peer_);
}

void http_session::run() {
  // Start on the session's strand.
  asio::dispatch(stream_.get_executor(),
                 beast::bind_front_handler(&http_session::do_read,
                                           shared_from_this()));
}

void http_session::do_read() {
  if (reading_ || last_read_ || deferred_ || slots_.size() >= max_pipelined)
    return;
  reading_ = true;
  parser_.emplace();
  parser_->body_limit(ctx_.settings.max_message_bytes);
  parser_->header_limit(ctx_.settings.max_header_bytes);
  // The head alone first, so its framing is checked before any body byte
  // is parsed; then as much as is buffered (read_request).
  parser_->eager(false);
  head_scanned_ = 0;
  message_bytes_ = 0;
  continue_checked_ = false;
  // A request (also a WebSocket handshake) must arrive whole in this time.
  stream_.expires_after(ctx_.settings.handshake_timeout);
  read_request();
}

void http_session::read_request() {
  auto head_limit = size_t{ctx_.settings.max_header_bytes};
  if (!parser_->is_header_done()) {
    std::string_view data{static_cast<const char*>(buffer_.data().data()),
                          std::min(buffer_.size(), head_limit)};
    auto from = head_scanned_ > 3 ? head_scanned_ - 3 : 0;
    // A head with bare LFs ends in "\n\n", and a control byte means it is
    // not HTTP at all (a CAF client on the wrong port): Beast answers
    // those (400) now rather than at the handshake timeout.
    auto not_http = std::any_of(data.begin(), data.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && u != '\r' && u != '\n' && u != '\t') || u == 0x7f;
    });
    if (!not_http && data.find("\r\n\r\n", from) == std::string_view::npos
        && data.find("\n\n", from) == std::string_view::npos) {
      if (buffer_.size() >= head_limit)
        return on_read(http::error::header_limit, 0);
      head_scanned_ = data.size();
      return read_more();
    }
  }
  beast::error_code ec;
  try {
    auto used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    message_bytes_ += used;
  } catch (const std::length_error&) {
    // Beast stores a field's size in 16 bits and throws past it (a huge
    // header or trailer field).
    ec = http::error::header_limit;
  }
  if (ec && ec != http::error::need_more)
    return on_read(ec, 0);
  if (parser_->is_header_done() && !continue_checked_) {
    continue_checked_ = true;
    // Before the body is read: Beast would take an unframed one for the
    // next request.
    if (refuse_unframed())
      return;
    // A body that came with the head must not wait for more bytes.
    parser_->eager(true);
    if (!parser_->is_done() && buffer_.size() > 0)
      return read_request();
    if (!parser_->is_done())
      send_continue();
  }
  if (parser_->is_done())
    return on_read({}, 0);
  // Beast bounds the body's data, not what a chunked body brings besides
  // (chunk extensions, trailer fields, read a few at a time): all of it
  // counts here.
  auto most = head_limit + 2 * ctx_.settings.max_message_bytes + 65536;
  if (message_bytes_ + buffer_.size() > most)
    return on_read(http::error::body_limit, 0);
  read_more();
}

bool http_session::refuse_unframed() {
  auto& req = parser_->get();
  std::vector<std::string_view> codings;
  auto [first, last] = req.equal_range(http::field::transfer_encoding);
  for (auto it = first; it != last; ++it)
    codings.emplace_back(it->value());
  auto refusal = check_request_framing(
    codings, req.find(http::field::content_length) != req.end());
  if (!refusal)
    return false;
  reading_ = false;
  head_ = req.method() == http::verb::head;
  open_slot();
  reply(refusal->status,
        encode_http_error(error_code::invalid_message, refusal->message),
        11, false);
  return true;
}

void http_session::send_continue() {
  auto& req = parser_->get();
  if (req.version() < 11
      || !beast::iequals(req[http::field::expect], "100-continue"))
    return;
  // Behind answers still owed it would come out of order; such a client
  // sends its body after its own wait instead.
  if (writing_ || !slots_.empty())
    return;
  static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
  writing_ = true;
  asio::async_write(stream_, asio::buffer(interim.data(), interim.size()),
                    [self = shared_from_this()](beast::error_code ec,
                                                std::size_t) {
                      self->writing_ = false;
                      if (!ec)
                        self->write_ready();
                    });
}

void http_session::read_more() {
  stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, 65536)),
                          beast::bind_front_handler(
                            &http_session::on_read_some, shared_from_this()));
}

void http_session::on_read_some(beast::error_code ec, std::size_t bytes) {
  buffer_.commit(bytes);
  if (ec == asio::error::eof && parser_->got_some()) {
    // The peer stopped sending mid-request: as in Beast's own read, a 400
    // (partial message).
    ec = {};
    parser_->put_eof(ec);
    return on_read(ec, 0);
  }
  if (ec)
    return on_read(ec, 0);
  read_request();
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  reading_ = false;
  if (ec == http::error::end_of_stream || ec == asio::error::eof) {
    last_read_ = true;
    // Answers still owed go first.
    if (slots_.empty() && !deferred_)
      do_close();
    return;
  }
  if (ec == beast::error::timeout) {
    log::info("http request timed out; closing");
    last_read_ = true;
    return; // tcp_stream has closed the socket
  }
  if (ec == asio::error::operation_aborted
      || ec == asio::error::connection_reset) {
    last_read_ = true;
    return;
  }
  if (ec) {
    open_slot();
    auto too_large = [&](unsigned status, const char* what, size_t limit) {
      reply(status,
            encode_http_error(error_code::message_too_large,
                              std::string{what} + " larger than "
                                + std::to_string(limit) + " bytes"),
            11, false);
    };
    if (ec == http::error::header_limit)
      return too_large(431, "the request headers are",
                       ctx_.settings.max_header_bytes);
    if (ec == http::error::body_limit)
      return too_large(413, "the body is", ctx_.settings.max_message_bytes);
    return reply(400,
                 encode_http_error(error_code::invalid_message,
                                   "malformed HTTP request: " + ec.message()),
                 11, false);
  }
  auto req = parser_->release();
  // Only publishes are handled while earlier requests are unanswered: a
  // status, cancel or upgrade must see what the requests before it did.
  if (!slots_.empty()
      && route_target(req.target()).target != endpoint::job_events) {
    deferred_ = std::move(req);
    return;
  }
  dispatch(std::move(req));
}

void http_session::open_slot() {
  current_ = first_slot_ + slots_.size();
  slots_.emplace_back();
}

void http_session::dispatch(request req) {
  open_slot();
  auto keep_alive = req.keep_alive();
  handle(std::move(req));
  // Refusals of what is read next answer no HEAD.
  head_ = false;
  if (!keep_alive)
    last_read_ = true;
  // An upgrade has taken the stream.
  if (stream_.socket().is_open())
    do_read();
}

void http_session::handle(request req) {
  // No answer to a HEAD has a body, a refusal's included.
  head_ = req.method() == http::verb::head;
  auto route = route_target(req.target());
  auto version = req.version();
  auto keep_alive = req.keep_alive();
  // RFC 9112 3.2: exactly one Host in HTTP/1.1; the Origin check reads it.
  if (version >= 11 && req.count(http::field::host) != 1)
    return reply(400,
                 encode_http_error(error_code::invalid_message,
                                   "an HTTP/1.1 request needs one Host "
                                   "header"),
                 version, false);
  if (route.target == endpoint::not_found)
    return reply(404,
                 encode_http_error(error_code::invalid_message,
                                   "no such endpoint: "
                                     + std::string{req.target()}),
                 version, keep_alive);
  // RFC 9110 asks every GET resource to answer HEAD too (load balancers'
  // health checks use it); an upgrade is a GET only.
  auto takes_head = route.method == "GET" && route.target != endpoint::websocket;
  if (req.method_string() != route.method
      && !(takes_head && req.method() == http::verb::head)) {
    auto allow = takes_head ? std::string_view{"GET, HEAD"} : route.method;
    auto takes = takes_head ? std::string{"GET and HEAD"}
                            : std::string{route.method};
    return reply(405,
                 encode_http_error(error_code::invalid_message,
                                   "this endpoint takes " + takes + " only"),
                 version, keep_alive, allow);
  }
  if (route.target == endpoint::websocket)
    return upgrade(std::move(req));
  if (beast::websocket::is_upgrade(req))
    return reply(404,
                 encode_http_error(error_code::invalid_message,
                                   "WebSocket is served at /v1/ws only"),
                 version, false);
  if (route.target == endpoint::healthz) {
    if (ctx_.draining)
      return reply(503, R"({"status":"draining"})", version, false);
    // A store that refuses writes still serves reads and subscriptions:
    // 200, saying so, rather than a 503 that takes it out of service.
    return reply(200, encode_health(metrics::global().store_refusing.load()),
                 version, keep_alive);
  }
  if (route.target == endpoint::watch_page)
    return reply(200, std::string{watch_page()}, version, keep_alive, {},
                 watch_page_content_type, watch_page_headers);
  if (route.target == endpoint::metrics)
    return reply(200, metrics::global().render(), version, keep_alive, {},
                 "text/plain; version=0.0.4");
  // A browser's POST from another site would publish or cancel with the
  // user's reach (no preflight guards a plain-text POST).
  if (route.method == "POST" && !origin_allowed(req))
    return reply(403,
                 encode_http_error(error_code::unauthorized,
                                   "this Origin may not publish or cancel "
                                   "(see --allowed-origins)"),
                 version, keep_alive);
  if (!is_valid_job_id(route.job_id))
    return reply(400,
                 encode_http_error(error_code::invalid_job_id,
                                   "the job id in the path must be 1 to 128 "
                                   "characters of A-Z a-z 0-9 . _ : -"),
                 version, keep_alive);
  if (auto& verifier = ctx_.settings.connection.verifier) {
    auto what = route.target == endpoint::job_events   ? scope::publish
                : route.target == endpoint::job_cancel ? scope::cancel
                                                       : scope::view;
    auto checked = verifier->verify(bearer_token(req), unix_now_ms());
    if (!checked) {
      audit_denial({}, {}, to_string(what), {"job_id", route.job_id},
                   error_message(checked.error()));
      return reply(401,
                   encode_http_error(error_code::unauthorized,
                                     error_message(checked.error())),
                   version, keep_alive, {}, "application/json",
                   bearer_challenge(req));
    }
    if (!checked->allows(what, route.job_id)) {
      audit_denial({}, checked->subject, to_string(what),
                   {"job_id", route.job_id},
                   "not in the token's jobs or scope");
      return reply(403,
                   encode_http_error(error_code::unauthorized,
                                     "the token does not allow '"
                                       + std::string{to_string(what)}
                                       + "' on this job"),
                   version, keep_alive);
    }
  }
  auto done = reply_later(version, keep_alive);
  switch (route.target) {
    case endpoint::job_events: {
      auto ev = parse_publish(req.body(), route.job_id);
      if (!ev) {
        auto res = error_response(ev.error());
        return reply(res.status, std::move(res.body), version, keep_alive);
      }
      ctx_.api.publish(bridge_, std::move(*ev), std::move(done));
      break;
    }
    case endpoint::job:
      ctx_.api.status(bridge_, std::move(route.job_id), std::move(done));
      break;
    case endpoint::job_cancel: {
      auto reason = parse_cancel_request(req.body());
      if (!reason) {
        auto res = error_response(reason.error());
        return reply(res.status, std::move(res.body), version, keep_alive);
      }
      ctx_.api.cancel(bridge_, std::move(route.job_id), std::move(*reason),
                      std::move(done));
      break;
    }
    case endpoint::job_connections:
      ctx_.api.connections(bridge_, std::move(route.job_id), std::move(done));
      break;
    default:
      reply(500, encode_http_error(error_code::internal, "unrouted endpoint"),
            version, keep_alive);
  }
}


bool http_session::origin_allowed(const request& req) {
  auto origin = req[http::field::origin];
  if (ctx_.settings.origins.allows(origin, req[http::field::host]))
    return true;
  audit_denial({}, {}, "origin", {"origin", origin},
               "not in --allowed-origins");
  return false;
}

void http_session::upgrade(request req) {
  if (!beast::websocket::is_upgrade(req))
    return reply(426,
                 encode_http_error(error_code::invalid_message,
                                   "/v1/ws takes WebSocket upgrades only"),
                 req.version(), false);
  // Checked here rather than left to Beast, whose 426 has a plain-text
  // body where every other refusal is JSON.
  if (req[http::field::sec_websocket_version] != "13") {
    const http_header version[] = {{"Sec-WebSocket-Version", "13"}};
    return reply(426,
                 encode_http_error(error_code::invalid_message,
                                   "Sec-WebSocket-Version must be 13"),
                 req.version(), false, {}, "application/json", version);
  }
  if (!is_valid_websocket_key(req[http::field::sec_websocket_key]))
    return reply(400,
                 encode_http_error(error_code::invalid_message,
                                   "Sec-WebSocket-Key must be the base64 "
                                   "encoding of 16 bytes"),
                 req.version(), false);
  if (!origin_allowed(req))
    return reply(403,
                 encode_http_error(error_code::unauthorized,
                                   "this Origin may not open a WebSocket "
                                   "(see --allowed-origins)"),
                 req.version(), false);
  if (ctx_.draining) {
    auto retry = std::to_string((ctx_.settings.resume_after_ms + 999) / 1000);
    const http_header retry_after[] = {{"Retry-After", retry}};
    return reply(503,
                 encode_http_error(error_code::rate_limited,
                                   "the server is restarting; connect again "
                                   "in a moment"),
                 req.version(), false, {}, "application/json", retry_after);
  }
  if (ctx_.sessions.size() >= ctx_.settings.max_connections)
    return reply(503,
                 encode_http_error(error_code::rate_limited,
                                   "the server has all the WebSocket "
                                   "connections it takes; retry later"),
                 req.version(), false);
  if (ctx_.sessions.from(peer_) >= ctx_.settings.max_connections_per_address)
    return reply(429,
                 encode_http_error(error_code::rate_limited,
                                   "too many WebSocket connections from "
                                   "this address"),
                 req.version(), false);
  std::optional<access_grant> grant;
  if (auto& verifier = ctx_.settings.connection.verifier) {
    auto checked = verifier->verify(bearer_token(req), unix_now_ms());
    if (!checked) {
      audit_denial({}, {}, "connect", {"job_id", {}},
                   error_message(checked.error()));
      return reply(401,
                   encode_http_error(error_code::unauthorized,
                                     error_message(checked.error())),
                   req.version(), false, {}, "application/json",
                   bearer_challenge(req));
    }
    grant = std::move(*checked);
  }
  // The WebSocket session takes over the socket and its timers.
  slots_.pop_back();
  last_read_ = true;
  stream_.expires_never();
  std::make_shared<ws_session>(std::move(stream_), ctx_, std::move(grant))
    ->run(std::move(req));
}

api_callback http_session::reply_later(unsigned version, bool keep_alive) {
  return [self = shared_from_this(), gate = ctx_.gate, version, keep_alive,
          id = current_, head = head_](api_response res) {
    gate->post(self->stream_.get_executor(),
               [self, version, keep_alive, id, head,
                res = std::move(res)]() mutable {
                 self->answer(id, head, res.status, std::move(res.body),
                              version, keep_alive);
               });
  };
}

void http_session::reply(unsigned status, std::string body, unsigned version,
                         bool keep_alive, std::string_view allow,
                         std::string_view content_type,
                         std::span<const http_header> headers) {
  answer(current_, head_, status, std::move(body), version, keep_alive, allow,
         content_type, headers);
}

void http_session::answer(uint64_t slot_id, bool head, unsigned status,
                          std::string body,
                          unsigned version, bool keep_alive,
                          std::string_view allow,
                          std::string_view content_type,
                          std::span<const http_header> headers) {
  auto res = std::make_shared<response>(static_cast<http::status>(status),
                                        version);
  res->set(http::field::server, "jobwire");
  res->set(http::field::content_type, content_type);
  for (auto& [name, value] : headers)
    res->set(name, value);
  // Refusals that pass: tell the client when to try again.
  if ((status == 429 || status == 503)
      && res->find(http::field::retry_after) == res->end())
    res->set(http::field::retry_after, "1");
  if (!allow.empty())
    res->set(http::field::allow, allow);
  res->keep_alive(keep_alive);
  res->body() = std::move(body);
  res->prepare_payload();
  if (head)
    res->body().clear();
  if (!keep_alive)
    last_read_ = true;
  slots_[slot_id - first_slot_] = std::move(res);
  write_ready();
}

void http_session::write_ready() {
  if (writing_ || slots_.empty() || !slots_.front())
    return;
  writing_ = true;
  auto& res = *slots_.front();
  stream_.expires_after(ctx_.settings.handshake_timeout);
  http::async_write(stream_, res,
                    beast::bind_front_handler(&http_session::on_write,
                                              shared_from_this(),
                                              res.keep_alive()));
}

void http_session::on_write(bool keep_alive, beast::error_code ec,
                            std::size_t) {
  writing_ = false;
  slots_.pop_front();
  ++first_slot_;
  if (ec)
    return;
  if (!keep_alive)
    return do_close();
  if (!slots_.empty())
    return write_ready();
  if (deferred_) {
    auto req = std::move(*deferred_);
    deferred_.reset();
    return dispatch(std::move(req));
  }
  if (last_read_)
    return do_close();
  // Reading may have waited for room, and an idle connection gets its
  // timeout from the read.
  if (reading_)
    stream_.expires_after(ctx_.settings.handshake_timeout);
  do_read();
}

void http_session::do_close() {
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

} // namespace jobwire
