#pragma once

#include <cstdint>
#include <optional>

namespace jobwire::bench {

/// A process's memory, in KiB.
struct memory_kib {
  uint64_t rss = 0;
  uint64_t pss = 0;
  bool has_pss = false;
};

/// VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup.
std::optional<memory_kib> read_memory(int pid);

/// CPU time (user + system) of `pid` so far, in seconds.
std::optional<double> read_cpu_seconds(int pid);

/// CPU time of this process so far, in seconds.
double own_cpu_seconds();

/// CPU seconds all CPUs of the machine spent in processes (user, system)
/// or stolen by the hypervisor so far (/proc/stat).
double machine_busy_seconds();

/// The pid of the process listening on TCP `port` (searches /proc; 0 when
/// none is found or not allowed).
int find_listener_pid(uint16_t port);

/// Whether process `pid` holds a socket listening on `port` (also through
/// a descriptor it inherited, as nginx's workers do); nullopt when that
/// cannot be told (nothing listens, or its descriptors are not ours to see).
std::optional<bool> listens_on(int pid, uint16_t port);

} // namespace jobwire::bench
