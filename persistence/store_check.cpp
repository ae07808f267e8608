#include "persistence/store_check.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobwire {

namespace {

/// What the child reports through the pipe; empty: all records read.
std::string walk(const std::string& dir) {
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0)
    return mdb_strerror(rc);
  struct closer {
    MDB_env* env;
    ~closer() {
      mdb_env_close(env);
    }
  } close_env{env};
  mdb_env_set_maxdbs(env, 64);
  // A store that does not open, or a file cut short, is the server's own
  // open to refuse, with its reason: here it would only crash.
  if (mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0640) != 0)
    return {};
  MDB_envinfo info;
  MDB_stat stat;
  mdb_env_info(env, &info);
  mdb_env_stat(env, &stat);
  std::error_code ec;
  auto size = std::filesystem::file_size(
    std::filesystem::path{dir} / "data.mdb", ec);
  if (ec || size < (info.me_last_pgno + 1) * size_t{stat.ms_psize})
    return {};
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn); rc != 0)
    return mdb_strerror(rc);
  // Touches every byte of every key and value, so each page is read.
  volatile unsigned char sink = 0;
  auto read_all = [&](MDB_dbi dbi, const std::string& name,
                      auto&& each) -> std::string {
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn, dbi, &cursor); rc != 0)
      return name + ": " + mdb_strerror(rc);
    MDB_val key{};
    MDB_val value{};
    int rc;
    while ((rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) == 0) {
      auto k = static_cast<const unsigned char*>(key.mv_data);
      auto v = static_cast<const unsigned char*>(value.mv_data);
      unsigned char x = 0;
      for (size_t i = 0; i < key.mv_size; ++i)
        x ^= k[i];
      for (size_t i = 0; i < value.mv_size; ++i)
        x ^= v[i];
      sink = sink ^ x;
      each(key);
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND)
      return name + ": " + mdb_strerror(rc);
    return {};
  };
  MDB_dbi main_dbi;
  if (int rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi); rc != 0)
    return mdb_strerror(rc);
  std::vector<std::string> names;
  auto bad = read_all(main_dbi, "the list of databases", [&](MDB_val key) {
    names.emplace_back(static_cast<const char*>(key.mv_data), key.mv_size);
  });
  if (!bad.empty())
    return bad;
  for (auto& name : names) {
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, name.c_str(), 0, &dbi);
    if (rc == MDB_INCOMPATIBLE)
      continue; // a plain record, not a database: not ours to judge
    if (rc != 0)
      return "database '" + name + "': " + mdb_strerror(rc);
    if (auto b = read_all(dbi, "database '" + name + "'", [](MDB_val) {});
        !b.empty())
      return b;
  }
  mdb_txn_abort(txn);
  return {};
}

} // namespace

store_check check_store_reads(const std::string& dir,
                              std::chrono::milliseconds timeout) {
  std::error_code ec;
  auto file = std::filesystem::path{dir} / "data.mdb";
  // Nothing stored yet; or less than LMDB's meta pages, which the server's
  // own open refuses with its reason.
  auto size = std::filesystem::file_size(file, ec);
  if (ec || size < 2 * static_cast<uintmax_t>(::sysconf(_SC_PAGESIZE)))
    return {store_check::nothing_stored, {}};
  auto cannot_start = [](const char* call) {
    return store_check{store_check::unfinished,
                       std::string{"the store check could not start ("} + call
                         + ": " + std::strerror(errno) + ")"};
  };
  int out[2];
  if (::pipe(out) != 0)
    return cannot_start("pipe");
  auto child = ::fork();
  if (child < 0) {
    auto failed = cannot_start("fork");
    ::close(out[0]);
    ::close(out[1]);
    return failed;
  }
  if (child == 0) {
    ::close(out[0]);
    // A damaged page crashes the read: let it end the child by its signal,
    // which names it, rather than in a handler the parent installed.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
      std::signal(sig, SIG_DFL);
    auto said = walk(dir);
    auto n = ::write(out[1], said.data(), said.size());
    ::_exit(n == static_cast<ssize_t>(said.size()) ? 0 : 3);
  }
  ::close(out[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(child, &status, WNOHANG)) == 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    ::close(out[0]);
    return {store_check::unfinished,
            "reading every record of " + file.string() + " took more than "
              + std::to_string(timeout.count() / 1000)
              + " s (--store-check-seconds)"};
  }
  std::string said;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;)
    said.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  auto damaged = [&](const std::string& how) {
    return store_check{store_check::damaged,
                       file.string() + " is damaged: " + how
                         + "; LMDB keeps no checksums: restore it from a "
                           "backup"};
  };
  if (WIFSIGNALED(status))
    return damaged(std::string{"reading its records crashed ("}
                   + strsignal(WTERMSIG(status)) + ")");
  if (!said.empty())
    return damaged(said);
  // A sanitizer reports a crash and exits instead.
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return damaged("reading its records failed (exit status "
                   + std::to_string(WEXITSTATUS(status)) + ")");
  return {};
}

} // namespace jobwire
