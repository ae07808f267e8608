#include "net/ws_session.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include "caf/all.hpp"

#include "actors/connection_actor.hpp"
#include "actors/metrics.hpp"
#include "messages/identifiers.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"
#include "net/client_address.hpp"
#include "net/exact_allocator.hpp"
#include "net/text_frame.hpp"

namespace jobwire {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {

bool is_expected_end(beast::error_code ec) {
  return ec == websocket::error::closed || ec == asio::error::operation_aborted
         || ec == asio::error::eof || ec == asio::error::connection_reset;
}

// A close handshake that has not finished in this time is cut short.
constexpr auto close_timeout = std::chrono::seconds(5);

// One write carries queued frames up to this many bytes (at least one
// frame, however large).
constexpr size_t write_budget = 64 * 1024;

// A read buffer larger than this is freed once the message is handled.
constexpr size_t kept_buffer_bytes = 4096;

// Commands are small: most fit the first read of a message.
constexpr size_t first_read_bytes = 256;
constexpr size_t more_read_bytes = 4096;

/// Messages a session reads per second and at once: twice what its actor
/// answers without `rate_limited`, so a client a little over its rate
/// hears so rather than being slowed unseen.
float read_rate(const connection_settings& s) {
  return static_cast<float>(2 * s.commands_per_second);
}

float read_burst(const connection_settings& s) {
  return static_cast<float>(2 * s.command_burst);
}

} // namespace

ws_session::ws_session(beast::tcp_stream&& stream, server_context& ctx,
                       std::optional<access_grant> grant)
  : ws_(guarded_stream{stream.release_socket(), ctx.settings.max_fragments}),
    ctx_(ctx),
    gate_(ctx.gate),
    grant_(grant ? std::make_unique<access_grant>(std::move(*grant))
                 : nullptr),
    reads_(read_burst(ctx.settings.connection), read_pacer::now_ms()) {
  // nop
}

ws_session::~ws_session() {
  ctx_.sessions.remove(this);
  finish();
}

void ws_session::run(request req) {
  ws_.set_option(websocket::stream_base::timeout{
    ctx_.settings.handshake_timeout,
    websocket::stream_base::none(), // our heartbeat finds dead peers
    false,
  });
  ws_.set_option(websocket::stream_base::decorator(
    [](websocket::response_type& res) {
      res.set(beast::http::field::server, "jobwire");
    }));
  ws_.read_message_max(ctx_.settings.max_message_bytes);
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong)
      pings_unanswered_ = 0;
  });
  // The 101 waits for `connected` and leaves with it.
  ws_.next_layer().hold();
  ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept,
                                                  shared_from_this()));
}

void ws_session::on_accept(beast::error_code ec) {
  if (ec) {
    log::info("websocket handshake failed", {{"reason", ec.message()}});
    // Beast's error response (400, 426) was kept: it must still go out.
    ws_.next_layer().flush_held([self = shared_from_this()](
                                  beast::error_code) {});
    return;
  }
  ws_.next_layer().release();
  auto now = unix_now_ms();
  connection_id_ = make_connection_id(now);
  // Queued here, not by the actor, so it is first and the 101 goes with it.
  queue_own(make_frame(encode_connected(
    connection_id_, ctx_.settings.connection.heartbeat_seconds, now)));
  beast::error_code ignored;
  auto peer = ws_.next_layer().next_layer().remote_endpoint(ignored);
  ctx_.sessions.add(this, weak_from_this(), client_address(peer.address()));
  actor_ = ctx_.sys.spawn(connection_impl,
                          std::weak_ptr<frame_sink>{shared_from_this()},
                          connection_id_, now, ctx_.directory, ctx_.registry,
                          ctx_.delivery, ctx_.connection_actor_settings,
                          grant_ ? std::optional{std::move(*grant_)}
                                 : std::nullopt);
  grant_.reset();
  ++*ctx_.live_connections;
  caf::actor_cast<caf::abstract_actor*>(actor_)->attach_functor(
    [count = ctx_.live_connections] { --*count; });
  do_read();
}

void ws_session::do_read() {
  auto& sent = ws_.next_layer().counter();
  if (buffer_.size() == 0 && sent.settled()
      && sent.messages() == messages_read_) {
    // Beast holds nothing unread: wait for the client without a read in
    // flight, which would cost a quiet connection 1 KiB until it speaks.
    wait_readable();
    return;
  }
  read_some();
}

void ws_session::read_some() {
  // Beast's whole-message read reserves 1.5 KiB up front; a first read of
  // a few bytes reserves only those, and a message that does not fit is
  // read on.
  auto limit = buffer_.size() == 0 ? first_read_bytes : more_read_bytes;
  ws_.async_read_some(buffer_, limit,
                      beast::bind_front_handler(&ws_session::on_read,
                                                shared_from_this()));
}

void ws_session::wait_readable() {
  buffer_.shrink_to_fit(); // empty: frees it
  ws_.next_layer().next_layer().async_wait(
    asio::socket_base::wait_read,
    asio::bind_allocator(exact_allocator<void>{},
                         beast::bind_front_handler(&ws_session::on_readable,
                                                   shared_from_this())));
}

void ws_session::on_readable(beast::error_code ec) {
  if (ec) {
    // Closed under us: force_close, or Beast's close timing out.
    closing_ = true;
    finish();
    return;
  }
  if (take_pong()) {
    wait_readable();
    return;
  }
  read_some();
}

bool ws_session::take_pong() {
  // The answer to our heartbeat, alone at the front: taken here, so an
  // idle connection's pong does not leave a read in flight after it. A
  // client's frames are masked: 2 + 4 bytes of header, at most 125 of
  // payload. Anything else is Beast's to read.
  unsigned char bytes[2 + 4 + 125];
  auto fd = ws_.next_layer().next_layer().native_handle();
  auto n = ::recv(fd, bytes, sizeof bytes, MSG_PEEK | MSG_DONTWAIT);
  if (n < 6 || bytes[0] != 0x8A || (bytes[1] & 0x80) == 0)
    return false;
  auto size = 6 + static_cast<ssize_t>(bytes[1] & 0x7f);
  if (size > static_cast<ssize_t>(sizeof bytes) || n < size)
    return false;
  // Peeked, so all there; were it not, the stream would be out of step.
  if (::recv(fd, bytes, static_cast<size_t>(size), MSG_DONTWAIT) != size)
    force_close();
  pings_unanswered_ = 0;
  return true;
}

void ws_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    if (ec == asio::error::message_size) {
      // The fragment limit: the stream is spent, only the socket is left.
      log::warn("too many fragments in one message; closing",
                {{"connection_id", connection_id_}});
      send_raw_close(websocket::close_code::too_big);
      force_close();
    } else if (!is_expected_end(ec)) {
      // Beast has already sent the close frame (1009, 1007, 1002) itself.
      log::info("websocket read ended",
                {{"connection_id", connection_id_}, {"reason", ec.message()}});
    }
    closing_ = true;
    finish();
    return;
  }
  // Any message shows the peer is alive.
  pings_unanswered_ = 0;
  if (!ws_.is_message_done()) {
    do_read();
    return;
  }
  ++messages_read_;
  client_command cmd;
  if (ws_.got_text()) {
    cmd = parse_command(beast::buffers_to_string(buffer_.data()));
  } else {
    cmd.type = command_type::invalid;
    cmd.error = error_code::invalid_message;
    cmd.error_message = "binary frames are not supported; send JSON as text";
  }
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > kept_buffer_bytes)
    buffer_.shrink_to_fit();
  caf::anon_send(actor_, command_atom::value, std::move(cmd));
  read_next();
}

void ws_session::read_next() {
  auto& limits = ctx_.settings.connection;
  if (reads_.take(read_pacer::now_ms(), read_rate(limits), read_burst(limits))) {
    do_read();
    return;
  }
  // Out of reads: the next token comes in 1/rate s, and the pacer counts
  // whole milliseconds. The timer exists only while a client floods, so an
  // idle connection carries none.
  auto pause = std::max<std::chrono::steady_clock::duration>(
    std::chrono::milliseconds(1),
    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / read_rate(limits))));
  auto timer = std::make_shared<asio::steady_timer>(ws_.get_executor(), pause);
  timer->async_wait([self = shared_from_this(), timer](beast::error_code) {
    // A read costs a token, this one too. Also after a close: the read
    // then ends and finishes the session.
    self->read_next();
  });
}

void ws_session::send(frame_ptr frame) {
  if (closing_)
    return;
  auto bytes = frame->text.size();
  post_frames(std::move(frame), 1, bytes);
}

void ws_session::send(frame_batch frames) {
  if (closing_ || frames->empty())
    return;
  size_t bytes = 0;
  for (auto& f : *frames)
    bytes += f->text.size();
  auto count = frames->size();
  post_frames(std::move(frames), count, bytes);
}

template <class Frames>
void ws_session::post_frames(Frames frames, size_t count, size_t bytes) {
  // Counted here, on the producer's thread, so its next room check sees
  // them; taken back if the session closes before they are queued.
  queued_bytes_ += bytes;
  queued_frames_ += count;
  gate_->post(ws_.get_executor(), [self = shared_from_this(),
                                  frames = std::move(frames), count,
                                  bytes]() mutable {
    if (self->closing_) {
      self->queued_bytes_ -= bytes;
      self->queued_frames_ -= count;
      return;
    }
    self->enqueue(std::move(frames));
  });
}

void ws_session::queue_own(frame_ptr frame) {
  queued_bytes_ += frame->text.size();
  ++queued_frames_;
  enqueue(std::move(frame));
}

void ws_session::enqueue(frame_ptr frame) {
  auto idle = queue_.empty();
  queue_.push_back(std::move(frame));
  if (idle)
    do_write();
}

void ws_session::enqueue(frame_batch frames) {
  auto idle = queue_.empty();
  queue_.append(frames->begin(), frames->end());
  if (idle)
    do_write();
}

void ws_session::close(uint16_t code, std::string reason) {
  gate_->post(ws_.get_executor(), [self = shared_from_this(), code,
                                  reason = std::move(reason)] {
    if (self->close_pending_ || self->closing_)
      return;
    self->closing_ = true;
    // Made only now: a session that never closes keeps no timer for it.
    self->close_ = std::make_unique<close_state>(
      self->ws_.get_executor(),
      websocket::close_reason{static_cast<websocket::close_code>(code),
                              reason});
    // A slow consumer would never drain its queue: drop it (its record
    // stays resumable); other closes let queued frames go first.
    if (code == websocket::close_code::try_again_later)
      self->drop_queue();
    self->close_->deadline.expires_after(close_timeout);
    self->close_->deadline.async_wait(
      [self](beast::error_code ec) {
        if (!ec)
          self->force_close();
      });
    if (self->queue_.empty())
      self->do_close();
    else
      self->close_pending_ = true;
  });
}

void ws_session::drain(unsigned retry_after_ms) {
  gate_->post(ws_.get_executor(), [self = shared_from_this(), retry_after_ms] {
    if (self->closing_ || self->connection_id_.empty())
      return;
    // Queued directly: the connection actor's frames stop here.
    self->queue_own(make_frame(encode_resume_hint(
      self->connection_id_, retry_after_ms, unix_now_ms())));
    self->close(websocket::close_code::service_restart, "server restarting");
  });
}

std::vector<followed_job> ws_session::written() const {
  std::lock_guard<std::mutex> guard{written_mtx_};
  std::vector<followed_job> out;
  out.reserve(written_.size());
  for (auto& [job, seq] : written_)
    out.push_back({job, seq});
  return out;
}

void ws_session::acknowledged(
  std::function<void(std::vector<followed_job>)> done) {
  auto posted = gate_->post(ws_.get_executor(), [self = shared_from_this(),
                                                 done]() {
    // On the strand, so the socket is not closed (and its descriptor
    // reused) under the ioctl.
    auto& socket = self->ws_.next_layer().next_layer();
    int unacknowledged = -1;
    if (socket.is_open()
        && ::ioctl(socket.native_handle(), SIOCOUTQ, &unacknowledged) == 0
        && unacknowledged == 0)
      done(self->written());
    else
      done({});
  });
  if (!posted)
    done({});
}

void ws_session::do_write() {
  if (!ws_.is_open()) {
    // Beast has sent or received a close: no data may follow it.
    drop_all();
    return;
  }
  auto framed_size = [](const frame_ptr& f) {
    return text_frame_header_size(f->text.size()) + f->text.size();
  };
  write_buffer_.clear();
  auto& first = queue_.front()->text;
  if (queue_.size() == 1
      || framed_size(queue_[0]) + framed_size(queue_[1]) > write_budget) {
    // This write carries one frame: its header (in the string's own
    // buffer, no allocation) and the shared text where it lies, gathered.
    append_text_frame_header(write_buffer_, first.size());
    in_flight_ = 1;
    ws_.next_layer().async_write_all(
      std::array<asio::const_buffer, 2>{asio::buffer(write_buffer_),
                                        asio::buffer(first)},
      beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
    return;
  }
  // Every queued frame, up to a budget, in one write: one syscall for
  // what would otherwise be one per frame.
  size_t n = 0;
  for (auto& f : queue_) {
    if (n > 0 && write_buffer_.size() + framed_size(f) > write_budget)
      break;
    append_text_frame(write_buffer_, f->text);
    ++n;
  }
  in_flight_ = n;
  ws_.next_layer().async_write_all(
    asio::buffer(write_buffer_),
    beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
}

void ws_session::on_write(beast::error_code ec, std::size_t) {
  auto n = in_flight_;
  in_flight_ = 0;
  if (ec) {
    if (!is_expected_end(ec))
      log::info("websocket write failed",
                {{"connection_id", connection_id_}, {"reason", ec.message()}});
    closing_ = true;
    drop_all();
    return;
  }
  auto& m = metrics::global();
  m.messages_delivered += n;
  auto now = std::chrono::steady_clock::now();
  metrics::latency_tally latencies;
  {
    std::lock_guard<std::mutex> guard{written_mtx_};
    // Frames come in runs of one job: its entry is looked up once a run.
    const std::string* job = nullptr;
    uint64_t* last = nullptr;
    for (size_t i = 0; i < n; ++i) {
      auto& f = queue_[i];
      if (f->seq == 0)
        continue;
      if (f->created != std::chrono::steady_clock::time_point{})
        latencies.add(now - f->created); // an event, not `subscribed`
      if (job == nullptr || *job != f->job_id) {
        job = &f->job_id;
        last = &written_[f->job_id];
      }
      *last = std::max(*last, f->seq);
    }
  }
  m.publish_to_send.observe(latencies);
  pop_front(n);
  if (!queue_.empty())
    return do_write();
  // An idle connection keeps no write buffer.
  std::string{}.swap(write_buffer_);
  if (close_pending_)
    do_close();
}

void ws_session::pop_front(size_t n) {
  for (size_t i = 0; i < n && !queue_.empty(); ++i) {
    queued_bytes_ -= queue_.front()->text.size();
    --queued_frames_;
    queue_.pop_front();
  }
}

void ws_session::drop_queue() {
  // The frames being written stay until their write completes.
  while (queue_.size() > in_flight_) {
    queued_bytes_ -= queue_.back()->text.size();
    --queued_frames_;
    queue_.pop_back();
  }
}

void ws_session::drop_all() {
  pop_front(queue_.size());
}

void ws_session::do_close() {
  close_pending_ = false;
  ws_.async_close(close_->reason, [self = shared_from_this()](
                                    beast::error_code) {
    self->close_->deadline.cancel();
  });
}

void ws_session::send_raw_close(uint16_t code) {
  // Beast cannot write on a failed stream, so the close frame (unmasked,
  // as a server sends it) goes straight to the socket; only when no frame
  // is half written, or the bytes would interleave.
  if (ws_.next_layer().writing())
    return;
  const unsigned char bytes[] = {0x88, 0x02, static_cast<unsigned char>(code >> 8),
                                 static_cast<unsigned char>(code & 0xff)};
  auto& socket = ws_.next_layer().next_layer();
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(bytes), ignored);
}

void ws_session::force_close() {
  beast::error_code ignored;
  auto& socket = ws_.next_layer().next_layer();
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void ws_session::heartbeat_due() {
  gate_->post(ws_.get_executor(),
              [self = shared_from_this()] { self->on_heartbeat(); });
}

void ws_session::on_heartbeat() {
  // Not before `connected` is out, nor once closing.
  if (closing_ || connection_id_.empty())
    return;
  if (pings_unanswered_ >= 2) {
    // Half-open TCP: nothing came back for two pings. The record stays
    // resumable.
    log::info("peer answered no ping; dropping",
              {{"connection_id", connection_id_}});
    closing_ = true;
    force_close();
    return;
  }
  // The pong (or any message) resets the count, not this completion. A
  // ping still stuck behind writes the peer does not take counts as
  // unanswered too.
  ++pings_unanswered_;
  if (ping_in_flight_)
    return;
  ping_in_flight_ = true;
  ws_.async_ping({}, [self = shared_from_this()](beast::error_code) {
    self->ping_in_flight_ = false;
  });
}

void ws_session::abandon() {
  ws_.next_layer().drop_waiting();
}

void ws_session::finish() {
  if (actor_) {
    caf::anon_send(actor_, closed_atom::value, written());
    actor_ = nullptr;
  }
}

} // namespace jobwire
