#define BOOST_TEST_MODULE pipeline_tls
#include <boost/test/unit_test.hpp>

// The CAF port with TLS: only a pipeline with a certificate from the
// configured CA gets in; the rest get a clear error and the server carries
// on. TLS files that do not load are refused at start, by both programs.
// Certificates are made here with the openssl command.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
    // `openssl x509` cannot date a certificate in the past; `openssl ca`
    // can.
    std::ofstream{dir + "/ca.cnf"}
      << "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nserial=serial\n"
         "new_certs_dir=.\ndefault_md=sha256\npolicy=p\n"
         "[p]\ncommonName=supplied\n";
    std::ofstream{dir + "/index.txt"};
    std::ofstream{dir + "/serial"} << "1000\n";
    auto dated = [&](const std::string& name, const std::string& from,
                     const std::string& to) {
      sh("openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out "
         + name + ".csr -subj /CN=" + name);
      sh("openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "
         + name + ".csr -out " + name + ".pem -startdate " + from
         + " -enddate " + to);
    };
    dated("expired", "20200101000000Z", "20200102000000Z");
    dated("future", "20900101000000Z", "20900102000000Z");
  }

  ~certificates() {
    std::filesystem::remove_all(dir);
  }

  std::string path(const std::string& file) const {
    return dir + "/" + file;
  }

  std::vector<std::string> tls_args(const std::string& who) const {
    return {"--caf-tls-cert=" + path(who + ".pem"),
            "--caf-tls-key=" + path(who + ".key"),
            "--caf-tls-ca=" + path("ca.pem")};
  }
};

/// One set of TLS files a program must refuse, and what it must say.
struct unusable_files {
  std::string cert;
  std::string key;
  std::string ca;
  std::string says;
};

std::vector<std::string> tls_args(const unusable_files& x) {
  return {"--caf-tls-cert=" + x.cert, "--caf-tls-key=" + x.key,
          "--caf-tls-ca=" + x.ca};
}

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
  // A pipeline with TLS is pointed at its TLS settings; one without, at
  // the TLS options (it got a bare disconnect_during_handshake).
  BOOST_TEST(rogue.err.find("the TLS handshake failed") != std::string::npos,
             rogue.err);
  BOOST_TEST(plain.err.find("does its CAF port take TLS?") != std::string::npos,
             plain.err);
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

BOOST_AUTO_TEST_CASE(tls_files_replaced_while_the_server_runs_are_taken_once_they_load) {
  // CAF reads the files for each pipeline connection: replaced by ones that
  // do not load, they aborted the server at the next one.
  certificates certs;
  namespace fs = std::filesystem;
  auto live_cert = certs.path("live.pem");
  auto live_key = certs.path("live.key");
  fs::copy_file(certs.path("server.pem"), live_cert);
  fs::copy_file(certs.path("server.key"), live_key);
  server_process server{{"--caf-tls-cert=" + live_cert,
                         "--caf-tls-key=" + live_key,
                         "--caf-tls-ca=" + certs.path("ca.pem")}};
  auto caf_port = read_caf_port(server);
  auto pipeline = pipeline_fixture::pipeline_binary();
  auto publish_as_client = [&](int progress) {
    return run_to_completion(
      pipeline, publish_args(certs.tls_args("client"), caf_port, progress),
      std::chrono::seconds{30});
  };
  BOOST_TEST(publish_as_client(10).out == "1\n");
  std::ofstream{live_cert, std::ios::trunc} << "not a certificate\n";
  BOOST_TEST(eventually([&] {
    return server.stderr_text().find("CAF TLS files changed but not taken")
           != std::string::npos;
  }, std::chrono::seconds{20}), server.stderr_tail(5));
  BOOST_TEST(server.stderr_text().find("--caf-tls-cert=" + live_cert
                                       + " cannot be used as a PEM "
                                         "certificate")
               != std::string::npos,
             server.stderr_tail(5));
  auto during = publish_as_client(20);
  BOOST_TEST(during.out == "2\n", during.err << server.stderr_tail(5));
  // A certificate and key from the CA again (the key replaced first, so
  // for a while they do not match): taken.
  fs::copy_file(certs.path("client.key"), live_key,
                fs::copy_options::overwrite_existing);
  fs::copy_file(certs.path("client.pem"), live_cert,
                fs::copy_options::overwrite_existing);
  BOOST_TEST(eventually([&] {
    return server.stderr_text().find("CAF TLS files reloaded")
           != std::string::npos;
  }, std::chrono::seconds{20}), server.stderr_tail(5));
  auto after = publish_as_client(30);
  BOOST_TEST(after.out == "3\n", after.err << server.stderr_tail(5));
  http_client http{server.port()};
  check_int(http.get("/v1/jobs/tls_job").json(), "last_seq", 3);
}

BOOST_AUTO_TEST_CASE(a_server_with_tls_files_it_cannot_use_does_not_start) {
  // CAF loads them only when a pipeline connects; a file it could not use
  // then aborted the server, WebSocket clients and all.
  certificates certs;
  auto garbage = certs.path("garbage.pem");
  std::ofstream{garbage} << "not a certificate\n";
  auto cert = certs.path("server.pem");
  auto key = certs.path("server.key");
  auto ca = certs.path("ca.pem");
  auto missing = certs.path("missing.pem");
  std::vector<unusable_files> cases{
    {missing, key, ca, "cannot read --caf-tls-cert=" + missing},
    // It read as "no start line".
    {certs.dir, key, ca,
     "cannot read --caf-tls-cert=" + certs.dir + ": it is a directory"},
    {garbage, key, ca,
     "--caf-tls-cert=" + garbage + " cannot be used as a PEM certificate"},
    {cert, certs.path("client.key"), ca,
     "--caf-tls-key=" + certs.path("client.key") + " does not match "
       + "--caf-tls-cert=" + cert},
    {cert, key, missing, "cannot read --caf-tls-ca=" + missing},
    // Loaded, and then failed every handshake without a word.
    {certs.path("expired.pem"), certs.path("expired.key"), ca,
     "--caf-tls-cert=" + certs.path("expired.pem")
       + " expired on Jan  2 00:00:00 2020 GMT"},
    {certs.path("future.pem"), certs.path("future.key"), ca,
     "--caf-tls-cert=" + certs.path("future.pem")
       + " is not valid before Jan  1 00:00:00 2090 GMT"},
  };
  for (auto& c : cases) {
    std::vector<std::string> args{"--port=0", "--caf-port=0",
                                  "--data-dir=" + certs.path("data")};
    for (auto& x : tls_args(c))
      args.push_back(x);
    auto result = run_to_completion(jobwire_binary(), args,
                                    std::chrono::seconds{10});
    BOOST_TEST((result.status.exited && result.status.code == 1),
               c.says << ": " << result.status.to_string());
    BOOST_TEST(result.err.find("jobwire: " + c.says) != std::string::npos,
               c.says << ": stderr: " << result.err);
    BOOST_TEST(result.out.find("listening") == std::string::npos,
               c.says << ": stdout: " << result.out);
  }
}

BOOST_AUTO_TEST_CASE(a_pipeline_with_tls_files_it_cannot_use_says_so_at_once) {
  // CAF loads them only when connecting: the pipeline printed an exception
  // on stdout, where publish prints the seq, and waited for its request
  // timeout.
  certificates certs;
  server_process server{certs.tls_args("server")};
  auto caf_port = read_caf_port(server);
  auto cert = certs.path("client.pem");
  auto ca = certs.path("ca.pem");
  auto missing = certs.path("missing.pem");
  std::vector<unusable_files> cases{
    {cert, certs.path("server.key"), ca,
     "--caf-tls-key=" + certs.path("server.key") + " does not match "
       + "--caf-tls-cert=" + cert},
    {cert, certs.path("client.key"), missing,
     "cannot read --caf-tls-ca=" + missing},
  };
  for (auto& c : cases) {
    auto args = publish_args(tls_args(c), caf_port, 10);
    args.push_back("--request-timeout-ms=15000");
    auto started = std::chrono::steady_clock::now();
    auto result = run_to_completion(pipeline_fixture::pipeline_binary(), args,
                                    std::chrono::seconds{60});
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
    BOOST_TEST((result.status.exited && result.status.code == 2),
               c.says << ": " << result.status.to_string());
    BOOST_TEST(result.err.find("jobwire-pipeline: " + c.says)
                 != std::string::npos,
               c.says << ": stderr: " << result.err);
    BOOST_TEST(result.out.empty(), c.says << ": stdout: " << result.out);
    BOOST_TEST((took < std::chrono::seconds{5}),
               c.says << ": took " << took.count() << " ms");
  }
}
