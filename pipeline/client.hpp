#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"
#include "caf/timespan.hpp"

#include "messages/ingest.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"
#include "pipeline/backoff.hpp"

namespace jobwire::pipeline {

/// How a pipeline process's middleman watches its link to jobwire.
struct link_settings {
  /// How often the middleman sends a BASP heartbeat to every peer. Must be
  /// well below the server's `middleman.connection-timeout`, or the server
  /// drops an idle pipeline.
  caf::timespan heartbeat_interval = std::chrono::seconds{1};
  /// A peer silent for this long counts as dead: its proxies go down and the
  /// client reconnects.
  caf::timespan connection_timeout = std::chrono::seconds{5};
};

/// Prepares `cfg` for a pipeline process: registers jobwire's wire types
/// (`register_types`), loads the middleman and turns heartbeats on. Call it
/// once per config, before the `actor_system` is made (e.g. from the
/// config's constructor, so that `--middleman.heartbeat-interval=..` on the
/// command line still wins); do not load the middleman again.
void configure(caf::actor_system_config& cfg, const link_settings& link = {});

/// Where and how patiently a client talks to jobwire.
struct client_settings {
  /// Host of jobwire's CAF port.
  std::string host = "127.0.0.1";
  /// jobwire's `--caf-port`.
  uint16_t port = 4242;
  /// Connection attempts of `client::connect` before it gives up (at least
  /// one).
  unsigned connect_attempts = 5;
  /// Longest wait for one connection handshake.
  caf::timespan connect_timeout = std::chrono::seconds{5};
  /// Longest wait for one reply to a publish, attach or status request. A
  /// request whose link is lost meanwhile does not wait this long: it is
  /// sent again, with its event id (so it is stored once), on the new link.
  caf::timespan request_timeout = std::chrono::seconds{5};
  /// Tries per publish or attach (the first included) on transient errors:
  /// a reply that does not come, a lost connection, `rate_limited`.
  unsigned request_attempts = 5;
  /// Tries also go on until this long after the first, so that a short
  /// `request_timeout` still rides out a server that stalls for a few
  /// seconds (its link is declared lost after CAF's connection timeout, and
  /// the request then waits for the new one).
  caf::timespan retry_at_least = std::chrono::seconds{10};
  /// Spacing of connection attempts and of retries.
  backoff_policy backoff;
  /// Connect over TLS (CAF's OpenSSL module, loaded with `configure_tls`).
  bool tls = false;
};

/// Loads CAF's OpenSSL module with this process's certificate, key and the
/// CA the server's certificate must come from. Call after `configure` and
/// before the `actor_system` is made; then set `client_settings::tls`. CAF
/// reads the files at every (re)connection and aborts on ones that do not
/// load: give it a `tls_mirror`'s paths, as jobwire-pipeline does.
void configure_tls(caf::actor_system_config& cfg, std::string certificate,
                   std::string key, std::string ca_file);

namespace detail {

struct client_state;

} // namespace detail

/// A connection to jobwire's ingest actor, shared by every copy of the
/// handle. A background thread watches the link (CAF heartbeats, see
/// `configure`) and reconnects with backoff when it drops, re-attaching the
/// workers attached through this client, so that a job survives a short
/// outage within the server's `--worker-grace`.
///
/// The blocking calls (`publish`, `attach`, `status`) may be made from any
/// thread that is not a CAF scheduler thread (they use a `scoped_actor`),
/// concurrently. The `actor_system` must outlive every copy.
class client {
public:
  // -- constructors, destructors ---------------------------------------------

  /// Connects to `settings.host:settings.port`, trying up to
  /// `connect_attempts` times with backoff. Errors: the last connection
  /// error (e.g. `cannot_connect_to_node`), or at once
  /// `unexpected_actor_messaging_interface` when the peer is not jobwire's
  /// ingest actor (retrying cannot help).
  static caf::expected<client> connect(caf::actor_system& sys,
                                       client_settings settings);

  client(const client&) = default;
  client(client&&) noexcept = default;
  client& operator=(const client&) = default;
  client& operator=(client&&) noexcept = default;

  /// The last copy stops the background thread.
  ~client();

  // -- calls -------------------------------------------------------------------

  /// Publishes `ev` and returns its seq once the server has stored it. An
  /// empty `event_id` is filled with `next_event_id()`; on a transient error
  /// the same event (same id) is sent again after a backoff, so a retry
  /// after a lost reply is stored once and answered with the first seq.
  /// Errors: the server's refusal (`invalid_message`, `job_finished`, ...;
  /// checked locally first with `validate_event`), or the last transient
  /// error after `request_attempts` tries.
  caf::expected<uint64_t> publish(job_event ev);

  /// The job's snapshot. Errors: `invalid_job_id`, `job_not_found`, or a
  /// transient error.
  caf::expected<job_snapshot> status(const std::string& job_id);

  /// Attaches `worker` to `job_id`, so that it receives the job's cancel
  /// requests, and remembers the pair to attach it again after a reconnect.
  /// Returns the job's snapshot at the time of attaching. When the snapshot
  /// of a running job says `cancel_requested` (the request may have been
  /// lost with an earlier link), `worker` gets a cancel request with an
  /// empty reason, here and on every re-attach.
  caf::expected<job_snapshot> attach(const std::string& job_id,
                                     const worker_actor& worker);

  /// Detaches `worker` from `job_id` (fire and forget) and forgets the pair.
  void detach(const std::string& job_id, const worker_actor& worker);

  /// A fresh event id, unique to this client (see `event_id_source`).
  std::string next_event_id();

  /// Stops the background thread and detaches nothing; later calls fail
  /// with `cannot_connect_to_node`. The last copy does this on destruction.
  void close();

  // -- properties ---------------------------------------------------------------

  /// Whether the link to the server is up right now.
  bool connected() const;

  /// How often the link was re-established after a loss.
  uint64_t reconnects() const;

  /// The current ingest handle; invalid while disconnected.
  ingest_actor ingest() const;

  const client_settings& settings() const;

  caf::actor_system& system() const;

private:
  explicit client(std::shared_ptr<detail::client_state> state);

  std::shared_ptr<detail::client_state> state_;
  // Keeps the background thread running while any copy of this client
  // exists; its deleter stops the thread.
  std::shared_ptr<void> keeper_;
};

} // namespace jobwire::pipeline
