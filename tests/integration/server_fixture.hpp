#pragma once

// Header-only: needs Boost.Test, which the harness library does not link.

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include "http_client.hpp"
#include "server_process.hpp"
#include "ws_client.hpp"

namespace jobwire::test {

/// The server that the tests of one executable share.
inline std::unique_ptr<server_process>& shared_server() {
  static std::unique_ptr<server_process> ptr;
  return ptr;
}

/// Whether the running test case has failed an assertion so far.
inline bool current_test_failed() {
  using namespace boost::unit_test;
  auto& results
    = results_collector.results(framework::current_test_case().p_id);
  return results.p_assertions_failed > 0 || results.p_aborted;
}

/// Gives each test the shared server, started with `args` (restarted when
/// the arguments differ or it has died). When the server dies during a test,
/// the test fails with the server's stderr; when a test fails otherwise, the
/// stderr tail goes to std::cerr.
class server_fixture {
public:
  explicit server_fixture(std::vector<std::string> args = {}) {
    std::signal(SIGPIPE, SIG_IGN);
    auto& ptr = shared_server();
    if (ptr && (ptr->args() != args || !ptr->running()))
      ptr.reset();
    if (!ptr)
      ptr = std::make_unique<server_process>(std::move(args));
    server_ = ptr.get();
  }

  ~server_fixture() {
    auto& ptr = shared_server();
    if (ptr.get() != server_)
      return;
    if (!ptr->running()) {
      BOOST_ERROR("jobwire " << ptr->status().to_string()
                             << " during this test; temp dir "
                             << ptr->temp_dir() << "; stderr tail:\n"
                             << ptr->stderr_tail(60));
      ptr->keep_temp_dir();
      ptr.reset();
    } else if (current_test_failed()) {
      std::cerr << "---- jobwire stderr (last 40 lines) after the failure of "
                << boost::unit_test::framework::current_test_case().p_name
                << " ----\n"
                << ptr->stderr_tail(40) << "---- end of stderr ----\n";
    }
  }

  server_fixture(const server_fixture&) = delete;
  server_fixture& operator=(const server_fixture&) = delete;

  server_process& server() {
    return *server_;
  }

  uint16_t port() const {
    return server_->port();
  }

private:
  server_process* server_;
};

/// A job id no other test uses: `prefix_PID_N`.
inline std::string unique_job_id(std::string_view prefix = "job") {
  static std::atomic<int> counter{0};
  return std::string{prefix} + "_" + std::to_string(getpid()) + "_"
         + std::to_string(++counter);
}

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred,
                std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

} // namespace jobwire::test
