#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "jobwire_bench/worker.hpp"

namespace jobwire::bench {

struct frame_fields;

/// What one subscriber saw of its job, checked against the delivery
/// promise: seqs increasing by one, gaps only where progress_updates were
/// coalesced (and those count only for stalled clients).
struct seq_check {
  bool has_base = false;
  /// The job's last seq when the subscription started.
  uint64_t base = 0;
  uint64_t last = 0;
  uint64_t received = 0;
  /// Seqs skipped without a matching `coalesced`.
  uint64_t missing = 0;
  /// Seqs skipped by coalesced progress_updates.
  uint64_t coalesced = 0;
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  /// Events before the `subscribed` reply, of another job, or malformed.
  uint64_t misplaced = 0;
  uint64_t error_frames = 0;
  std::string first_error;
  /// reconnect: the seq to reach, and when the client got there.
  uint64_t target = 0;
  uint64_t target_set_ns = 0;
  bool caught_up = false;
};

/// One WebSocket client on plain non-blocking sockets: RFC 6455 framing,
/// pings answered, text frames scanned for the few fields we check.
class ws_client final : public io_handler {
public:
  enum class phase : uint8_t {
    idle,
    connecting,
    handshake,
    open,
    closing,
    closed,
  };

  ws_client(worker& w, size_t index, job_slot* job, bool stalled);
  ~ws_client() override;

  // -- commands (worker thread) ------------------------------------------------

  void connect();

  void subscribe();

  void resume(std::string_view earlier_id);

  void stop_reading();

  void start_reading();

  /// Sends close 1000 and waits for the server's close.
  void close_gracefully();

  /// Closes the socket at once.
  void abort();

  void on_io(uint32_t events) override;

  // -- setup ------------------------------------------------------------------

  job_slot* job;
  bool stalled;
  bool subscribe_on_connect = false;
  /// Latencies of replayed events mean nothing: reconnect turns this off.
  bool record_latency = true;

  // -- what happened ------------------------------------------------------------

  phase state = phase::idle;
  std::string connection_id;
  bool subscribed = false;
  bool resumed = false;
  bool close_sent = false;
  /// The server closed (close frame or EOF) without being asked.
  bool server_closed = false;
  uint16_t close_code = 0;
  std::string close_reason;
  std::string failure;
  uint64_t connect_start_ns = 0;
  seq_check check;

private:
  void finish_connect();
  void read_some();
  void on_handshake();
  void on_nchan_open();
  size_t parse_frames(std::string_view data);
  void on_frame(bool fin, uint8_t opcode, std::string_view payload);
  void on_message(std::string_view text);
  void on_event(const frame_fields& f);
  void send_frame(uint8_t opcode, std::string_view payload);
  void flush();
  void update_interest();
  void fail(std::string why);
  void finish(bool by_server);
  void release_slot();

  worker& w_;
  size_t index_;
  int fd_ = -1;
  bool reading_ = true;
  bool registered_ = false;
  bool slot_released_ = false;
  uint32_t interest_ = 0;
  std::string in_;
  std::string out_;
  std::string fragments_;
  bool in_fragment_ = false;
  std::string accept_;
  uint32_t mask_state_;
};

} // namespace jobwire::bench
