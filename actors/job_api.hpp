#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "caf/fwd.hpp"

#include "messages/interfaces.hpp"

namespace jobwire {

/// An HTTP answer: status code and JSON body.
struct api_response {
  unsigned status = 200;
  std::string body;
};

/// Receives the answer, on an actor thread: post it where it belongs.
using api_callback = std::function<void(api_response)>;

/// The HTTP API's operations as actor requests, for code that is not an
/// actor (net/'s HTTP sessions). Each call returns at once; `cb` runs once.
/// Requests made through the same `bridge` (from `pick_bridge`) reach the
/// directory, and so each job, in the order made.
class job_api {
public:
  /// A request still unanswered after `timeout` means a stuck actor: the
  /// client gets a 500 then, and the late answer is dropped.
  job_api(caf::actor_system& sys, directory_actor directory,
          std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// 202 `{"job_id","seq"}`; 409 job_finished; 400 for a bad event.
  void publish(size_t bridge, job_event ev, api_callback cb) const;

  /// 200 with the snapshot; 404 job_not_found.
  void status(size_t bridge, std::string job_id, api_callback cb) const;

  /// 202 with the snapshot after the cancel; 404 or 409.
  void cancel(size_t bridge, std::string job_id, std::string reason,
              api_callback cb) const;

  /// 200 `{"job_id","connections":[..]}`.
  void connections(size_t bridge, std::string job_id, api_callback cb) const;

  /// A bridge for a new client connection, round robin.
  size_t pick_bridge() const;

  /// Stops the bridges and waits until they are gone. Their waiting
  /// callbacks hold HTTP sessions, which must go while the io_context they
  /// belong to still exists; requests made after this get no answer.
  void stop() const;

  /// The actors that make the requests; they stop when the last copy of
  /// this object goes.
  class bridges;

private:
  directory_actor directory_;
  std::shared_ptr<bridges> bridges_;
};

/// The response for an error from an actor: its protocol code's HTTP status
/// and `{"code","message"}`.
api_response error_response(const caf::error& err);

} // namespace jobwire
