#include "ws_client.hpp"

#include <deque>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace jobwire::test {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct ws_client::impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buf;
  std::deque<ws_frame> inbox;
  bool open = false;
  // The read loop has ended with `end_ec`.
  bool ended = false;
  beast::error_code end_ec;
  // A close frame came from the server.
  bool close_seen = false;
  websocket::close_reason close_reason;

  void start_read() {
    ws.async_read(buf, [this](beast::error_code ec, size_t) {
      if (ec) {
        ended = true;
        end_ec = ec;
        open = false;
        return;
      }
      inbox.push_back({ws.got_text(), beast::buffers_to_string(buf.data())});
      buf.consume(buf.size());
      start_read();
    });
  }

  // Runs handlers until `pred()` holds, the deadline passes or no work is
  // left; returns `pred()`.
  template <class Pred>
  bool run_until(Pred pred, clock_type::time_point deadline) {
    while (!pred()) {
      if (clock_type::now() >= deadline)
        return false;
      if (ioc.stopped())
        ioc.restart();
      if (ioc.run_one_until(deadline) == 0 && ioc.stopped())
        return pred();
    }
    return true;
  }

  // Runs one operation to completion; on timeout closes the socket, which
  // completes the operation with an error.
  template <class Start>
  beast::error_code run_op(Start start, duration timeout) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      done = true;
      result = ec;
    });
    if (!run_until([&] { return done; }, clock_type::now() + timeout)) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws).socket().close(ignored);
      run_until([&] { return done; },
                clock_type::now() + std::chrono::seconds{5});
      open = false;
      return beast::error::timeout;
    }
    return result;
  }

  void write(bool text, std::string_view payload, duration timeout) {
    if (!open)
      throw std::runtime_error("ws_client: send on a closed connection ("
                               + end_ec.message() + ")");
    ws.text(text);
    auto ec = run_op(
      [&](auto handler) {
        ws.async_write(net::buffer(payload.data(), payload.size()),
                       std::move(handler));
      },
      timeout);
    if (ec)
      throw std::runtime_error("ws_client: write failed: " + ec.message());
  }
};

std::string ws_close_info::to_string() const {
  std::string result;
  if (close_frame)
    result = "close frame " + std::to_string(code) + " \"" + reason + "\"";
  else
    result = "no close frame (" + error + ")";
  if (!before.empty()) {
    result += ", after";
    for (auto& x : before)
      result += " " + (x.text ? x.payload : "<binary>");
  }
  return result;
}

ws_client::ws_client() : impl_(std::make_unique<impl>()) {
  // nop
}

ws_client::~ws_client() {
  if (impl_) {
    beast::error_code ignored;
    beast::get_lowest_layer(impl_->ws).socket().close(ignored);
  }
}

ws_client::ws_client(ws_client&&) noexcept = default;

ws_client& ws_client::operator=(ws_client&&) noexcept = default;

int ws_client::try_connect(uint16_t port, std::string_view path,
                           duration timeout) {
  auto& d = *impl_;
  auto& stream = beast::get_lowest_layer(d.ws);
  stream.expires_after(timeout);
  tcp::endpoint endpoint{net::ip::make_address_v4("127.0.0.1"), port};
  auto ec = d.run_op(
    [&](auto handler) { stream.async_connect(endpoint, std::move(handler)); },
    timeout + std::chrono::seconds{1});
  if (ec)
    return 0;
  d.ws.auto_fragment(false);
  d.ws.read_message_max(64 * 1024 * 1024);
  d.ws.control_callback([&d](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::close) {
      d.close_seen = true;
      d.close_reason = d.ws.reason();
    }
  });
  websocket::response_type res;
  auto host = "127.0.0.1:" + std::to_string(port);
  ec = d.run_op(
    [&](auto handler) {
      d.ws.async_handshake(res, host, std::string{path}, std::move(handler));
    },
    timeout + std::chrono::seconds{1});
  if (ec)
    return static_cast<int>(res.result_int());
  // Beast's own timeouts take over from here.
  stream.expires_never();
  websocket::stream_base::timeout opt{std::chrono::seconds{5},
                                      websocket::stream_base::none(), false};
  d.ws.set_option(opt);
  d.open = true;
  d.start_read();
  return static_cast<int>(res.result_int());
}

void ws_client::connect(uint16_t port, std::string_view path,
                        duration timeout) {
  auto status = try_connect(port, path, timeout);
  if (status != 101)
    throw std::runtime_error(
      "ws_client: upgrade on port " + std::to_string(port) + std::string{path}
      + " failed with HTTP status " + std::to_string(status));
}

bool ws_client::is_open() const {
  return impl_->open && !impl_->close_seen;
}

void ws_client::send_text(std::string_view payload, duration timeout) {
  impl_->write(true, payload, timeout);
}

void ws_client::send_binary(std::string_view payload, duration timeout) {
  impl_->write(false, payload, timeout);
}

void ws_client::close(uint16_t code, duration timeout) {
  auto& d = *impl_;
  if (!d.open)
    return;
  d.run_op(
    [&](auto handler) {
      d.ws.async_close(websocket::close_reason{code}, std::move(handler));
    },
    timeout);
  d.run_until([&] { return d.ended; }, clock_type::now() + timeout);
  d.open = false;
}

std::optional<ws_frame> ws_client::read_frame(duration timeout) {
  auto& d = *impl_;
  d.run_until([&] { return !d.inbox.empty() || d.ended; },
              clock_type::now() + timeout);
  if (d.inbox.empty())
    return std::nullopt;
  auto result = std::move(d.inbox.front());
  d.inbox.pop_front();
  return result;
}

json_value ws_client::read_json(duration timeout) {
  auto frame = read_frame(timeout);
  if (!frame) {
    std::string why
      = "no message within " + std::to_string(timeout.count()) + " ms";
    if (impl_->ended)
      why += " (the connection ended: "
             + (impl_->close_seen
                  ? "close frame " + std::to_string(impl_->close_reason.code)
                  : impl_->end_ec.message())
             + ")";
    throw std::runtime_error("ws_client: " + why);
  }
  if (!frame->text)
    throw std::runtime_error("ws_client: expected a text message, got a "
                             "binary one of "
                             + std::to_string(frame->payload.size())
                             + " bytes");
  return json_value::parse(frame->payload);
}

json_value
ws_client::read_until(const std::function<bool(const json_value&)>& pred,
                      duration timeout, std::vector<json_value>* skipped) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    auto left
      = std::chrono::duration_cast<duration>(deadline - clock_type::now());
    if (left.count() < 0)
      left = duration{0};
    auto x = read_json(left);
    if (pred(x))
      return x;
    if (skipped != nullptr)
      skipped->push_back(std::move(x));
  }
}

json_value ws_client::read_type(std::string_view type, duration timeout,
                                std::vector<json_value>* skipped) {
  return read_until(
    [type](const json_value& x) {
      auto t = x.find("type");
      return t != nullptr && t->is_string() && t->as_string() == type;
    },
    timeout, skipped);
}

size_t ws_client::poll() {
  auto& d = *impl_;
  if (d.ioc.stopped())
    d.ioc.restart();
  d.ioc.poll();
  return d.inbox.size();
}

size_t ws_client::pending() const {
  return impl_->inbox.size();
}

ws_close_info ws_client::wait_close(duration timeout) {
  auto& d = *impl_;
  d.run_until([&] { return d.ended || d.close_seen; },
              clock_type::now() + timeout);
  ws_close_info result;
  result.before.assign(std::make_move_iterator(d.inbox.begin()),
                       std::make_move_iterator(d.inbox.end()));
  d.inbox.clear();
  if (d.close_seen) {
    result.close_frame = true;
    result.code = d.close_reason.code;
    result.reason = std::string{d.close_reason.reason.c_str()};
  } else if (d.ended) {
    result.error = d.end_ec.message();
  } else {
    result.error = "timeout after " + std::to_string(timeout.count()) + " ms";
  }
  return result;
}

} // namespace jobwire::test
