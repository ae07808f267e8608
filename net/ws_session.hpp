#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "actors/access.hpp"
#include "actors/frame_sink.hpp"
#include "messages/interfaces.hpp"
#include "net/frame_queue.hpp"
#include "net/guarded_stream.hpp"
#include "net/read_pacer.hpp"
#include "net/server_context.hpp"

namespace jobwire {

/// One WebSocket client: reads text frames and hands each, parsed, to its
/// connection actor; writes the frames the actor sends, one write in flight
/// and the rest queued. The queue's bound is enforced by its one producer
/// (the connection actor, or the delivery actor while it holds the
/// connection's frames), which checks `queued_bytes`/`queued_frames` first.
/// Pings when the server's heartbeat says so; a peer that answers none of
/// two is dropped.
class ws_session : public frame_sink,
                   public std::enable_shared_from_this<ws_session> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  /// `grant` is the upgrade's verified token, when access control is on.
  ws_session(boost::beast::tcp_stream&& stream, server_context& ctx,
             std::optional<access_grant> grant);

  ~ws_session() override;

  /// Completes the upgrade `req` and starts reading.
  void run(request req);

  // -- frame_sink ---------------------------------------------------------------

  void send(frame_ptr frame) override;

  void send(frame_batch frames) override;

  void close(uint16_t code, std::string reason) override;

  size_t queued_bytes() const override {
    return queued_bytes_;
  }

  size_t queued_frames() const override {
    return queued_frames_;
  }

  bool closing() const override {
    return closing_;
  }

  std::vector<followed_job> written() const override;

  void acknowledged(
    std::function<void(std::vector<followed_job>)> done) override;

  /// For a restart: sends `resume_hint`, then close 1012, after the frames
  /// already queued. Frames that come later are not sent (nor recorded as
  /// sent), so a resume on the restarted server delivers them.
  void drain(unsigned retry_after_ms);

  /// From the server's heartbeat (any thread): ping the peer, or drop it
  /// if the last two pings went unanswered.
  void heartbeat_due();

  /// For a server whose io threads have stopped: lets go of what still
  /// holds this session, so it goes with the io_context.
  void abandon();

private:
  template <class Frames>
  void post_frames(Frames frames, size_t count, size_t bytes);
  /// On the strand: queues, and starts writing if nothing was being written.
  void enqueue(frame_ptr frame);
  /// On the strand: counts and queues a frame of the session's own
  /// (`connected`, `resume_hint`), which no producer counted.
  void queue_own(frame_ptr frame);
  void enqueue(frame_batch frames);
  void on_accept(boost::beast::error_code ec);
  /// Reads the next message: with Beast, or first waiting for bytes when
  /// Beast holds none.
  void do_read();
  void read_some();
  void wait_readable();
  void on_readable(boost::beast::error_code ec);
  bool take_pong();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  /// Reads the next message now, or once the read pacing allows.
  void read_next();
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void do_close();
  void on_heartbeat();
  void pop_front(size_t n);
  void drop_queue();
  void drop_all();
  void send_raw_close(uint16_t code);
  void force_close();
  void finish();

  boost::beast::websocket::stream<guarded_stream> ws_;
  boost::beast::flat_buffer buffer_;
  server_context& ctx_;
  connection_actor actor_;
  std::string connection_id_;
  /// Our own reference: an actor may keep this session past the server.
  io_gate_ptr gate_;
  /// Until the connection actor takes it.
  std::unique_ptr<access_grant> grant_;
  // -- on the strand --
  frame_queue queue_;
  /// The first `in_flight_` frames of `queue_`, framed, are being written.
  size_t in_flight_ = 0;
  std::string write_buffer_;
  bool close_pending_ = false;
  /// Beast takes one ping at a time: the next waits for this one's write.
  bool ping_in_flight_ = false;
  /// Once closing: the close frame to send and how long the close may take.
  struct close_state {
    close_state(boost::asio::any_io_executor ex,
                boost::beast::websocket::close_reason r)
      : deadline(std::move(ex)), reason(std::move(r)) {
      // nop
    }
    boost::asio::steady_timer deadline;
    boost::beast::websocket::close_reason reason;
  };
  std::unique_ptr<close_state> close_;
  unsigned pings_unanswered_ = 0;
  /// Paces reading: a client sending more than twice its command rate is
  /// read no faster, so TCP holds the rest back rather than the actor's
  /// mailbox, and it is answered rather than closed.
  read_pacer reads_;
  /// Messages Beast has handed us.
  uint64_t messages_read_ = 0;
  // -- read from any thread --
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<size_t> queued_frames_{0};
  std::atomic<bool> closing_{false};
  mutable std::mutex written_mtx_;
  std::unordered_map<std::string, uint64_t> written_;
};

} // namespace jobwire
