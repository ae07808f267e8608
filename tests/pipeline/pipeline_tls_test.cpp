#define BOOST_TEST_MODULE pipeline_tls
#include <boost/test/unit_test.hpp>

// The CAF port with TLS: only a pipeline with a certificate from the
// configured CA gets in; the rest get a clear error and the server carries
// on. Certificates are made here with the openssl command.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "pipeline_fixture.hpp"

using namespace jobwire::test;

namespace {

/// A CA, a server and a client certificate from it, and a rogue client
/// certificate from another CA, in a temp dir.
struct certificates {
  std::string dir;

  certificates() {
    char tmpl[] = "/tmp/jobwire-tls-XXXXXX";
    dir = mkdtemp(tmpl);
    auto sh = [&](const std::string& cmd) {
      auto rc = std::system(("cd " + dir + " && " + cmd + " >/dev/null 2>&1")
                              .c_str());
      BOOST_REQUIRE_MESSAGE(rc == 0, "failed: " << cmd);
    };
    auto ca = [&](const std::string& name) {
      sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout " + name
         + ".key -out " + name + ".pem -subj /CN=" + name);
    };
    auto cert = [&](const std::string& name, const std::string& by) {
      sh("openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out "
         + name + ".csr -subj /CN=" + name);
      sh("openssl x509 -req -days 2 -in " + name + ".csr -CA " + by
         + ".pem -CAkey " + by + ".key -CAcreateserial -out " + name + ".pem");
    };
    ca("ca");
    ca("other_ca");
    cert("server", "ca");
    cert("client", "ca");
    cert("rogue", "other_ca");
  }

  ~certificates() {
    std::filesystem::remove_all(dir);
  }

  std::vector<std::string> tls_args(const std::string& who) const {
    return {"--caf-tls-cert=" + dir + "/" + who + ".pem",
            "--caf-tls-key=" + dir + "/" + who + ".key",
            "--caf-tls-ca=" + dir + "/ca.pem"};
  }
};

std::vector<std::string> publish_args(std::vector<std::string> extra,
                                      uint16_t caf_port, int progress) {
  std::vector<std::string> args{"publish", "--job=tls_job",
                                "--type=progress_update", "--stage=s",
                                "--progress=" + std::to_string(progress),
                                "--connect-attempts=1",
                                "--caf-port=" + std::to_string(caf_port)};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

} // namespace

BOOST_AUTO_TEST_CASE(only_peers_with_a_certificate_from_the_ca_get_in) {
  certificates certs;
  server_process server{certs.tls_args("server")};
  auto caf_port = read_caf_port(server);
  auto pipeline = pipeline_fixture::pipeline_binary();
  // A pipeline with a certificate from the CA publishes.
  auto ok = run_to_completion(
    pipeline, publish_args(certs.tls_args("client"), caf_port, 10),
    std::chrono::seconds{20});
  BOOST_TEST(ok.status.exited);
  BOOST_TEST(ok.status.code == 0, ok.err);
  BOOST_TEST(ok.out == "1\n");
  // Plain CAF, and a certificate from another CA, are turned away.
  auto plain = run_to_completion(pipeline, publish_args({}, caf_port, 20),
                                 std::chrono::seconds{20});
  BOOST_TEST(plain.status.code == 1);
  BOOST_TEST(plain.err.find("cannot reach jobwire") != std::string::npos,
             plain.err);
  auto rogue_args = certs.tls_args("rogue");
  auto rogue = run_to_completion(pipeline,
                                 publish_args(rogue_args, caf_port, 30),
                                 std::chrono::seconds{20});
  BOOST_TEST(rogue.status.code == 1);
  // The server carries on, and only the first event was stored.
  http_client http{server.port()};
  auto res = http.get("/v1/jobs/tls_job");
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_int(res.json(), "last_seq", 1);
  auto again = run_to_completion(
    pipeline, publish_args(certs.tls_args("client"), caf_port, 40),
    std::chrono::seconds{20});
  BOOST_TEST(again.out == "2\n", again.err);
}
