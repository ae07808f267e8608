#include "jobwire_bench/proc_stats.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

namespace jobwire::bench {

namespace {

std::optional<uint64_t> field_kib(const std::string& path,
                                  const std::string& name) {
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(name))
      return std::strtoull(line.c_str() + name.size(), nullptr, 10);
  return std::nullopt;
}

} // namespace

std::optional<memory_kib> read_memory(int pid) {
  auto base = "/proc/" + std::to_string(pid);
  auto rss = field_kib(base + "/status", "VmRSS:");
  if (!rss)
    return std::nullopt;
  memory_kib out;
  out.rss = *rss;
  if (auto pss = field_kib(base + "/smaps_rollup", "Pss:")) {
    out.pss = *pss;
    out.has_pss = true;
  }
  return out;
}

std::optional<double> read_cpu_seconds(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // The command name may hold spaces: count fields after its ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14)
      utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) {
      stime = std::strtoull(field.c_str(), nullptr, 10);
      return static_cast<double>(utime + stime)
             / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return std::nullopt;
}

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

double machine_busy_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string cpu;
  // user nice system idle iowait irq softirq steal
  unsigned long long f[8] = {};
  in >> cpu;
  for (auto& x : f)
    in >> x;
  // Interrupt time is left out: it is not charged to any process either,
  // so ours (loopback TCP runs in softirqs) would count as someone else's.
  auto busy = f[0] + f[1] + f[2] + f[7];
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

/// Inodes of the sockets listening (state 0A) on `port`, as /proc/PID/fd
/// links name them.
std::set<std::string> listener_inodes(uint16_t port) {
  std::set<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in{table};
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields{line};
      std::string sl, local, remote, state, queues, timer, retr, uid, tmo,
        inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retr
        >> uid >> tmo >> inode;
      auto colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos)
        continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port)
        inodes.insert("socket:[" + inode + "]");
    }
  }
  return inodes;
}

/// Whether process `dir` (/proc/PID) has one of `inodes` open; nullopt when
/// its descriptors cannot be read (gone, or not ours to see).
std::optional<bool> holds_any(const std::filesystem::path& dir,
                              const std::set<std::string>& inodes) {
  std::error_code ec;
  std::filesystem::directory_iterator fds{dir / "fd", ec};
  if (ec)
    return std::nullopt;
  for (auto& fd : fds) {
    std::error_code lec;
    auto link = std::filesystem::read_symlink(fd.path(), lec);
    if (!lec && inodes.contains(link.string()))
      return true;
  }
  return false;
}

} // namespace

int find_listener_pid(uint16_t port) {
  auto inodes = listener_inodes(port);
  if (inodes.empty())
    return 0;
  try {
    std::error_code ec;
    for (auto& proc : std::filesystem::directory_iterator{"/proc", ec}) {
      auto name = proc.path().filename().string();
      if (name.empty()
          || name.find_first_not_of("0123456789") != std::string::npos)
        continue;
      if (holds_any(proc.path(), inodes).value_or(false))
        return std::atoi(name.c_str());
    }
  } catch (const std::exception&) {
    // A process went away while we looked: treat as not found.
  }
  return 0;
}

std::optional<bool> listens_on(int pid, uint16_t port) {
  auto inodes = listener_inodes(port);
  if (inodes.empty())
    return std::nullopt;
  try {
    return holds_any("/proc/" + std::to_string(pid), inodes);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace jobwire::bench
