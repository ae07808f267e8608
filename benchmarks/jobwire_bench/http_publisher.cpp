#include "jobwire_bench/http_publisher.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobwire_bench/clock.hpp"
#include "jobwire_bench/frame_scan.hpp"

namespace jobwire::bench {

namespace {

/// Content-Length of an HTTP head, or -1.
long content_length(std::string_view head) {
  static constexpr std::string_view name = "content-length:";
  for (size_t pos = head.find("\r\n"); pos != std::string_view::npos;
       pos = head.find("\r\n", pos + 2)) {
    auto line = head.substr(pos + 2);
    if (line.size() <= name.size())
      continue;
    bool match = true;
    for (size_t i = 0; i < name.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    if (!match)
      continue;
    auto v = line.substr(name.size());
    while (!v.empty() && v.front() == ' ')
      v.remove_prefix(1);
    long n = -1;
    std::from_chars(v.data(), v.data() + v.size(), n);
    return n;
  }
  return -1;
}

} // namespace

http_publisher::http_publisher(worker& w, size_t index,
                               std::vector<job_slot*> jobs)
  : publisher(w, index, std::move(jobs)), last_seq_(jobs_.size(), 0) {
}

http_publisher::~http_publisher() {
  if (fd_ >= 0)
    close(fd_);
}

void http_publisher::connect() {
  int err = 0;
  fd_ = start_connect(w_.run.server.addr, nullptr, err);
  if (fd_ < 0) {
    fail(std::string{"connect: "} + std::strerror(err));
    return;
  }
  interest_ = EPOLLOUT;
  w_.watch(fd_, interest_, this);
}

void http_publisher::close_now() {
  if (fd_ < 0)
    return;
  w_.forget(fd_);
  close(fd_);
  fd_ = -1;
}

void http_publisher::start(size_t j, uint64_t now) {
  auto& job = *jobs_[j];
  uint64_t seq = 0;
  body_.clear();
  body_ += R"({"type":"progress_update",)";
  if (w_.run.opt->nchan()) {
    // nchan passes the body on as it is, so it carries what jobwire's
    // frames add: the job id and a seq (this is the job's only publisher).
    seq = ++last_seq_[j];
    body_ += R"("job_id":")";
    body_ += job.id;
    body_ += R"(","seq":)";
    body_ += std::to_string(seq);
    body_ += ',';
  }
  body_ += R"("stage":"bench","progress":)";
  body_ += std::to_string(next_progress());
  body_ += R"(,"estimated_seconds_remaining":5,"message":")";
  body_ += stamped_message(now, body_.size() + 2);
  body_ += "\"}";
  out_ += job.request_head;
  out_ += std::to_string(body_.size());
  out_ += "\r\n\r\n";
  out_ += body_;
  in_flight_.push_back({j, now, seq});
}

bool http_publisher::ready(bool& soon) {
  if (idle_closed_ && failure.empty()) {
    idle_closed_ = false;
    connect();
    soon = true;
    return false;
  }
  return connected && fd_ >= 0;
}

void http_publisher::on_io(uint32_t events) {
  if (fd_ < 0)
    return;
  if (!connected) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      fail(std::string{"connect: "} + std::strerror(err));
      return;
    }
    connected = true;
    if (reconnects == 0)
      bump(w_.counters.publishers_up);
    interest_ = EPOLLIN;
    w_.rewatch(fd_, interest_, this);
    return;
  }
  if ((events & EPOLLOUT) && !out_.empty())
    flush();
  if (fd_ >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
    read_some();
}

void http_publisher::read_some() {
  auto n = read(fd_, w_.scratch(), w_.scratch_size());
  if (n == 0) {
    if (in_flight_.empty()) {
      // An idle keep-alive connection timed out: open another when there
      // is something to send.
      close_now();
      connected = false;
      idle_closed_ = true;
      ++reconnects;
      return;
    }
    fail("the server closed the publisher's connection with "
         + std::to_string(in_flight_.size()) + " requests unanswered");
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR)
      fail(std::string{"read: "} + std::strerror(errno));
    return;
  }
  in_.append(w_.scratch(), static_cast<size_t>(n));
  size_t off = 0;
  for (;;) {
    std::string_view rest{in_.data() + off, in_.size() - off};
    auto end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos)
      break;
    auto head = rest.substr(0, end + 2);
    auto len = content_length(head);
    if (!head.starts_with("HTTP/1.1 ") || len < 0) {
      fail("malformed HTTP response: "
           + std::string{head.substr(0, head.find("\r\n"))});
      return;
    }
    auto total = end + 4 + static_cast<size_t>(len);
    if (rest.size() < total)
      break;
    int status = std::atoi(head.data() + 9);
    on_response(status, rest.substr(end + 4, static_cast<size_t>(len)));
    if (fd_ < 0)
      return;
    off += total;
  }
  in_.erase(0, off);
}

void http_publisher::on_response(int status, std::string_view body) {
  if (in_flight_.empty()) {
    fail("a response to no request");
    return;
  }
  auto p = in_flight_.front();
  in_flight_.pop_front();
  frame_fields f;
  uint64_t seq = 0;
  if (w_.run.opt->nchan()) {
    // 201 or 202 with the channel's info: the message is in the channel.
    if (status >= 200 && status < 300)
      seq = p.seq;
  } else if (status == 202 && scan_frame(body, f) && f.has_seq
             && f.job_id == jobs_[p.job]->id) {
    seq = f.seq;
  }
  if (seq != 0)
    answered(p.job, p.sent_ns, seq);
  else
    refused_with(p.job, "HTTP " + std::to_string(status) + " "
                          + std::string{body.substr(0, 300)});
}

void http_publisher::flush() {
  while (!out_.empty()) {
    auto n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      fail(std::string{"send: "} + std::strerror(errno));
      return;
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  uint32_t want = EPOLLIN | (out_.empty() ? 0u : uint32_t{EPOLLOUT});
  if (want != interest_) {
    interest_ = want;
    w_.rewatch(fd_, want, this);
  }
}

void http_publisher::fail(std::string why) {
  note_failure(std::move(why));
  // What was in flight is neither acked nor refused: the run's check
  // reports it.
  for (auto& p : in_flight_)
    abandoned(p.job);
  in_flight_.clear();
  connected = false;
  close_now();
}

} // namespace jobwire::bench
