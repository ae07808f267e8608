#include "jobwire_bench/ws_client.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobwire_bench/clock.hpp"
#include "jobwire_bench/frame_scan.hpp"
#include "jobwire_bench/ws_handshake.hpp"

namespace jobwire::bench {

namespace {

constexpr uint8_t op_continuation = 0x0;
constexpr uint8_t op_text = 0x1;
constexpr uint8_t op_binary = 0x2;
constexpr uint8_t op_close = 0x8;
constexpr uint8_t op_ping = 0x9;
constexpr uint8_t op_pong = 0xA;

constexpr uint64_t max_frame = 16u << 20;

bool is_event_type(std::string_view t) {
  return t == "progress_update" || t == "stage_complete"
         || t == "job_complete" || t == "job_failed" || t == "job_cancelled";
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i]))
        != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

/// The value of header `name` in an HTTP head, trimmed.
std::string_view header_value(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    auto line_start = pos + 2;
    auto line_end = head.find("\r\n", line_start);
    auto line = head.substr(line_start, line_end == std::string_view::npos
                                          ? std::string_view::npos
                                          : line_end - line_start);
    if (iequals_prefix(line, name) && line.size() > name.size()
        && line[name.size()] == ':') {
      auto v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      return v;
    }
    pos = line_end;
  }
  return {};
}

} // namespace

ws_client::ws_client(worker& w, size_t index, job_slot* j, bool st)
  : job(j),
    stalled(st),
    w_(w),
    index_(index),
    mask_state_(static_cast<uint32_t>(index * 2654435761u + 0x9e3779b9u)) {
  // nop
}

ws_client::~ws_client() {
  if (fd_ >= 0)
    close(fd_);
}

void ws_client::connect() {
  connect_start_ns = now_ns();
  int err = 0;
  // A stalled client keeps a small receive buffer, so that what it does
  // not read waits at the server (its socket and its queues), not here.
  fd_ = start_connect(w_.run.server.addr, w_.run.source_for(index_), err,
                      stalled ? static_cast<int>(w_.run.opt->stalled_rcvbuf)
                              : 0);
  if (fd_ < 0) {
    failure = std::string{"connect: "} + std::strerror(err);
    state = phase::closed;
    bump(w_.counters.connect_failed);
    release_slot();
    return;
  }
  state = phase::connecting;
  interest_ = EPOLLOUT;
  registered_ = true;
  w_.watch(fd_, interest_, this);
}

void ws_client::finish_connect() {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    fail(std::string{"connect: "} + std::strerror(err));
    return;
  }
  auto key = make_ws_key();
  accept_ = ws_accept_for(key);
  // nchan: one WebSocket per channel, subscribed by its URL.
  auto& opt = *w_.run.opt;
  auto path = opt.nchan() && job != nullptr
                ? opt.base_path + "/sub/" + job->id
                : std::string{"/v1/ws"};
  out_ = "GET " + path + " HTTP/1.1\r\nHost: " + w_.run.server.host_header
         + "\r\n" + w_.run.server.auth_header
         + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: "
         + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  state = phase::handshake;
  flush();
}

void ws_client::subscribe() {
  if (state != phase::open || job == nullptr)
    return;
  send_frame(op_text,
             R"({"type":"subscribe","job_id":")" + job->id + R"("})");
}

void ws_client::resume(std::string_view earlier_id) {
  if (state != phase::open)
    return;
  std::string text = R"({"type":"resume","connection_id":")";
  text += earlier_id;
  text += R"("})";
  send_frame(op_text, text);
}

void ws_client::stop_reading() {
  reading_ = false;
  update_interest();
}

void ws_client::start_reading() {
  if (reading_)
    return;
  reading_ = true;
  if (fd_ >= 0) {
    update_interest();
    // Level-triggered: whatever waits in the socket shows up at once.
  }
}

void ws_client::close_gracefully() {
  if (state != phase::open)
    return;
  const char code[2] = {static_cast<char>(1000 >> 8),
                        static_cast<char>(1000 & 0xff)};
  send_frame(op_close, std::string_view{code, 2});
  close_sent = true;
  state = phase::closing;
}

void ws_client::abort() {
  if (fd_ < 0)
    return;
  if (registered_)
    w_.forget(fd_);
  close(fd_);
  fd_ = -1;
  state = phase::closed;
}

void ws_client::on_io(uint32_t events) {
  if (fd_ < 0)
    return;
  if (state == phase::connecting) {
    finish_connect();
    return;
  }
  if ((events & EPOLLOUT) && !out_.empty())
    flush();
  if (fd_ < 0)
    return;
  if (reading_) {
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
      read_some();
  } else if (events & (EPOLLERR | EPOLLHUP)) {
    // Not reading, and the peer is gone: stop the reports; what is in the
    // socket stays there until the client reads again.
    interest_ = 0;
    registered_ = false;
    w_.forget(fd_);
  }
}

void ws_client::read_some() {
  auto* buf = w_.scratch();
  auto n = read(fd_, buf, w_.scratch_size());
  if (n == 0) {
    finish(state != phase::closing || !close_sent);
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return;
    if (state == phase::handshake)
      fail(std::string{"handshake: "} + std::strerror(errno));
    else
      finish(true);
    return;
  }
  bump(w_.counters.bytes, static_cast<uint64_t>(n));
  std::string_view data{buf, static_cast<size_t>(n)};
  if (state == phase::handshake) {
    in_.append(data);
    on_handshake();
    return;
  }
  if (in_.empty()) {
    auto used = parse_frames(data);
    if (fd_ >= 0 && used < data.size())
      in_.assign(data.substr(used));
  } else {
    in_.append(data);
    auto used = parse_frames(in_);
    if (fd_ >= 0)
      in_.erase(0, used);
  }
}

void ws_client::on_handshake() {
  auto end = in_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (in_.size() > 16384)
      fail("handshake: reply head too long");
    return;
  }
  std::string_view head{in_.data(), end + 2};
  if (!head.starts_with("HTTP/1.1 101")) {
    auto line = head.substr(0, head.find("\r\n"));
    fail("handshake: " + std::string{line});
    return;
  }
  if (header_value(head, "Sec-WebSocket-Accept") != accept_) {
    fail("handshake: wrong Sec-WebSocket-Accept");
    return;
  }
  state = phase::open;
  in_.erase(0, end + 4);
  if (w_.run.opt->nchan())
    on_nchan_open();
  if (!in_.empty()) {
    std::string rest;
    rest.swap(in_);
    auto used = parse_frames(rest);
    if (fd_ >= 0)
      in_.assign(rest, used);
  }
}

size_t ws_client::parse_frames(std::string_view data) {
  size_t off = 0;
  while (data.size() - off >= 2) {
    auto p = reinterpret_cast<const uint8_t*>(data.data() + off);
    auto avail = data.size() - off;
    bool fin = (p[0] & 0x80) != 0;
    uint8_t opcode = p[0] & 0x0f;
    if ((p[1] & 0x80) != 0) {
      fail("the server sent a masked frame");
      return data.size();
    }
    uint64_t len = p[1] & 0x7f;
    size_t head = 2;
    if (len == 126) {
      if (avail < 4)
        break;
      len = (uint64_t{p[2]} << 8) | p[3];
      head = 4;
    } else if (len == 127) {
      if (avail < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | p[2 + i];
      head = 10;
    }
    if (len > max_frame) {
      fail("a frame of " + std::to_string(len) + " bytes");
      return data.size();
    }
    if (avail < head + len)
      break;
    std::string_view payload{data.data() + off + head,
                             static_cast<size_t>(len)};
    off += head + static_cast<size_t>(len);
    on_frame(fin, opcode, payload);
    if (fd_ < 0)
      return data.size();
  }
  return off;
}

void ws_client::on_frame(bool fin, uint8_t opcode, std::string_view payload) {
  switch (opcode) {
    case op_text:
      if (fin) {
        on_message(payload);
      } else {
        fragments_.assign(payload);
        in_fragment_ = true;
      }
      break;
    case op_continuation:
      if (!in_fragment_) {
        fail("a continuation frame without a first frame");
        return;
      }
      fragments_.append(payload);
      if (fin) {
        in_fragment_ = false;
        std::string msg;
        msg.swap(fragments_);
        on_message(msg);
      }
      break;
    case op_binary:
      ++check.misplaced;
      break;
    case op_ping:
      send_frame(op_pong, payload);
      break;
    case op_pong:
      break;
    case op_close: {
      if (payload.size() >= 2)
        close_code = static_cast<uint16_t>(
          (static_cast<uint8_t>(payload[0]) << 8)
          | static_cast<uint8_t>(payload[1]));
      else
        close_code = 1005;
      close_reason.assign(payload.size() > 2 ? payload.substr(2) : "");
      if (!close_sent) {
        // The server started it: answer, then wait for its EOF.
        server_closed = true;
        bump(w_.counters.server_closed);
        char echo[2] = {static_cast<char>(close_code >> 8),
                        static_cast<char>(close_code & 0xff)};
        send_frame(op_close, std::string_view{echo, 2});
        close_sent = true;
      }
      state = phase::closing;
      break;
    }
    default:
      fail("a frame with opcode " + std::to_string(opcode));
  }
}

void ws_client::on_message(std::string_view text) {
  bump(w_.counters.frames);
  frame_fields f;
  if (!scan_frame(text, f)) {
    ++check.misplaced;
    if (check.first_error.empty())
      check.first_error = "malformed frame: " + std::string{text.substr(0, 200)};
    return;
  }
  if (is_event_type(f.type)) {
    on_event(f);
    return;
  }
  if (f.type == "connected") {
    connection_id.assign(f.connection_id);
    w_.connect_latency.record(now_ns() - connect_start_ns);
    bump(w_.counters.connected);
    release_slot();
    if (subscribe_on_connect)
      subscribe();
    return;
  }
  if (f.type == "subscribed") {
    if (!check.has_base) {
      check.has_base = true;
      check.base = check.last = f.status_last_seq;
    }
    if (!subscribed) {
      subscribed = true;
      bump(w_.counters.subscribed);
    }
    if (stalled)
      stop_reading();
    return;
  }
  if (f.type == "resumed") {
    resumed = true;
    bump(w_.counters.resumed);
    return;
  }
  if (f.type == "error") {
    ++check.error_frames;
    bump(w_.counters.error_frames);
    if (check.first_error.empty())
      check.first_error = std::string{text.substr(0, 300)};
    return;
  }
  if (f.type == "pong" || f.type == "unsubscribed" || f.type == "job_status"
      || f.type == "resume_hint" || f.type == "cancel_requested")
    return;
  ++check.misplaced;
}

void ws_client::on_nchan_open() {
  // The upgrade is the subscription: no `connected`, no `subscribed`, and
  // the channel is new, so its first message has seq 1.
  w_.connect_latency.record(now_ns() - connect_start_ns);
  bump(w_.counters.connected);
  release_slot();
  check.has_base = true;
  subscribed = true;
  bump(w_.counters.subscribed);
  if (stalled)
    stop_reading();
}

void ws_client::on_event(const frame_fields& f) {
  auto& c = check;
  if (job == nullptr || !f.has_seq || f.job_id != job->id || !subscribed) {
    ++c.misplaced;
    if (c.first_error.empty())
      c.first_error = !subscribed ? "an event before `subscribed`"
                                  : "an event of another job or without seq";
    return;
  }
  if (f.seq <= c.last) {
    if (f.seq == c.last)
      ++c.duplicates;
    else
      ++c.out_of_order;
    return;
  }
  auto gap = f.seq - c.last - 1;
  if (gap > 0) {
    if (f.type == "progress_update" && f.coalesced == gap)
      c.coalesced += gap;
    else
      c.missing += gap;
  } else if (f.coalesced != 0) {
    // Says it replaced events, yet nothing is missing before it.
    ++c.misplaced;
    if (c.first_error.empty())
      c.first_error = "coalesced=" + std::to_string(f.coalesced)
                      + " without a gap at seq " + std::to_string(f.seq);
  }
  auto advanced = f.seq - c.last;
  if (!stalled) {
    if (job->ring) {
      // Count skipped seqs too, or the publishers would wait for them
      // forever; the check above has them.
      auto top = std::min(f.seq,
                          job->reserved.load(std::memory_order_relaxed));
      for (auto s = c.last + 1; s <= top; ++s)
        w_.run.jobs->delivered(*job, s);
    }
    bump(w_.counters.events, advanced);
  } else {
    bump(w_.counters.stalled_events);
  }
  c.last = f.seq;
  ++c.received;
  if (record_latency)
    if (auto t = stamp_of(f.message); t != 0) {
      auto now = now_ns();
      if (now > t)
        w_.latency.record(now - t);
    }
  if (c.target != 0 && !c.caught_up && c.last >= c.target) {
    c.caught_up = true;
    w_.catch_up.record(now_ns() - c.target_set_ns);
    bump(w_.counters.caught_up);
  }
}

void ws_client::send_frame(uint8_t opcode, std::string_view payload) {
  if (fd_ < 0 || close_sent)
    return;
  char head[14];
  size_t n = 0;
  head[n++] = static_cast<char>(0x80 | opcode);
  auto len = payload.size();
  if (len < 126) {
    head[n++] = static_cast<char>(0x80 | len);
  } else if (len < 65536) {
    head[n++] = static_cast<char>(0x80 | 126);
    head[n++] = static_cast<char>(len >> 8);
    head[n++] = static_cast<char>(len & 0xff);
  } else {
    head[n++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i)
      head[n++] = static_cast<char>((static_cast<uint64_t>(len) >> (8 * i))
                                    & 0xff);
  }
  // xorshift32: masks need not be secret here, only present.
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  char mask[4];
  std::memcpy(mask, &mask_state_, 4);
  std::memcpy(head + n, mask, 4);
  n += 4;
  out_.append(head, n);
  auto start = out_.size();
  out_.append(payload);
  for (size_t i = 0; i < len; ++i)
    out_[start + i] = static_cast<char>(out_[start + i] ^ mask[i % 4]);
  flush();
}

void ws_client::flush() {
  while (!out_.empty()) {
    auto n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      if (state == phase::handshake)
        fail(std::string{"send: "} + std::strerror(errno));
      else
        finish(true);
      return;
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  update_interest();
}

void ws_client::update_interest() {
  if (fd_ < 0)
    return;
  uint32_t want = (reading_ ? uint32_t{EPOLLIN | EPOLLRDHUP} : 0u)
                  | (out_.empty() ? 0u : uint32_t{EPOLLOUT});
  if (!registered_) {
    if (want == 0)
      return;
    interest_ = want;
    registered_ = true;
    w_.watch(fd_, want, this);
  } else if (want != interest_) {
    interest_ = want;
    w_.rewatch(fd_, want, this);
  }
}

void ws_client::fail(std::string why) {
  bool handshaking = state == phase::connecting || state == phase::handshake;
  failure = std::move(why);
  if (fd_ >= 0) {
    if (registered_)
      w_.forget(fd_);
    close(fd_);
    fd_ = -1;
  }
  state = phase::closed;
  if (handshaking)
    bump(w_.counters.connect_failed);
  else
    bump(w_.counters.closed);
  release_slot();
}

void ws_client::finish(bool by_server) {
  if (state == phase::handshake || state == phase::connecting) {
    fail("the server closed the connection during the handshake");
    return;
  }
  if (by_server && !server_closed) {
    server_closed = true;
    bump(w_.counters.server_closed);
  }
  if (registered_)
    w_.forget(fd_);
  close(fd_);
  fd_ = -1;
  state = phase::closed;
  bump(w_.counters.closed);
  release_slot();
}

void ws_client::release_slot() {
  // Once per connect: at `connected`, or when it ended before that.
  if (!slot_released_) {
    slot_released_ = true;
    w_.connect_done();
  }
}

} // namespace jobwire::bench
