#define BOOST_TEST_MODULE bad_input
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <initializer_list>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"
#include "raw_socket.hpp"
#include "server_fixture.hpp"
#include "wire_checks.hpp"
#include "ws_client.hpp"

using namespace jobwire::test;
using namespace std::chrono_literals;

namespace {

constexpr size_t max_message_bytes = 1024;
constexpr int max_fragments = 64;
constexpr int max_subscriptions = 8;
constexpr auto handshake_timeout = 500ms;

struct fixture : server_fixture {
  fixture()
    : server_fixture(
      {"--max-message-bytes=" + std::to_string(max_message_bytes),
       "--max-fragments=" + std::to_string(max_fragments),
       "--max-subscriptions=" + std::to_string(max_subscriptions),
       "--handshake-timeout-ms=" + std::to_string(handshake_timeout.count())}),
      http(port()) {
    // nop
  }

  ~fixture() {
    // Whatever a test sent, the server keeps serving everyone.
    if (!shared_server() || !shared_server()->running())
      return;
    try {
      check_server_serves(port());
    } catch (const std::exception& e) {
      BOOST_ERROR("the server stopped serving after this test: " << e.what());
    }
  }

  http_client http;
};

/// A ping whose text is exactly `size` bytes.
std::string padded_ping(std::string_view request_id, size_t size) {
  std::string head
    = R"({"type":"ping","request_id":)" + q(request_id) + R"(,"pad":")";
  std::string tail = "\"}";
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

/// An `error` frame whose code is one of `codes`.
void check_error_in(const json_value& frame,
                    std::initializer_list<std::string_view> codes) {
  check_string(frame, "type", "error");
  auto code = frame.find("code");
  BOOST_TEST((code != nullptr && code->is_string()
              && std::find(codes.begin(), codes.end(), code->as_string())
                   != codes.end()),
             "unexpected error code in " << frame);
  auto message = frame.find("message");
  BOOST_TEST((message != nullptr && message->is_string()
              && !message->as_string().empty()),
             "an error needs a message: " << frame);
  check_timestamp(frame);
}

/// The connection still answers.
void check_alive(ws_client& ws) {
  auto extra = ping_barrier(ws, "still-here");
  BOOST_TEST(extra.empty(), "unexpected frames: " << describe(extra));
}

/// Opens a raw WebSocket connection and reads the connected frame.
void raw_upgrade(raw_socket& s, uint16_t port) {
  s.connect(port);
  auto reply = s.handshake(port);
  BOOST_REQUIRE_MESSAGE(reply && reply->status == 101,
                        "upgrade failed: " << (reply
                                                 ? std::to_string(reply->status)
                                                 : std::string{"no response"}));
  auto hello = s.read_frame();
  BOOST_REQUIRE_MESSAGE(hello && hello->opcode == ws_opcode::text,
                        "no connected frame");
  check_string(json_value::parse(hello->payload), "type", "connected");
}

/// Reads text frames until a pong with `request_id`.
bool raw_read_pong(raw_socket& s, std::string_view request_id) {
  for (;;) {
    auto f = s.read_frame();
    if (!f)
      return false;
    if (f->opcode != ws_opcode::text)
      continue;
    auto x = json_value::parse(f->payload);
    auto id = x.find("request_id");
    if (type_of(x) == "pong" && id != nullptr && id->is_string()
        && id->as_string() == request_id)
      return true;
    BOOST_TEST_MESSAGE("skipping frame " << x);
  }
}

/// The server closes with one of `codes` and then closes TCP.
void check_closed_with(raw_socket& s, std::initializer_list<uint16_t> codes) {
  auto result = s.read_close();
  BOOST_TEST(
    (result.close_frame
     && std::find(codes.begin(), codes.end(), result.code) != codes.end()),
    "expected a close frame with code " << *codes.begin() << ", got "
                                        << result.to_string());
  BOOST_TEST(result.eof,
             "the TCP connection stayed open: " << result.to_string());
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(bad_input, fixture)

// -- bad commands -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(malformed_json_is_invalid_json) {
  auto ws = open_ws(port());
  for (std::string bad :
       {"{", R"({"type":)", "not json", "", R"({"type":"ping"} trailing)",
        R"({"type":"ping",})", "{'type':'ping'}", R"({"type":"ping" "x":1})",
        R"({"type":"ping","request_id":"unterminated})"}) {
    BOOST_TEST_CONTEXT("sent: " << bad) {
      ws.send_text(bad);
      check_error(ws.read_json(), "invalid_json");
    }
  }
  check_alive(ws);
}

BOOST_AUTO_TEST_CASE(json_that_is_not_an_object_is_refused) {
  auto ws = open_ws(port());
  for (std::string bad :
       {"[]", "42", R"("ping")", "null", "true", R"([{"type":"ping"}])"}) {
    BOOST_TEST_CONTEXT("sent: " << bad) {
      ws.send_text(bad);
      auto reply = ws.read_json();
      // Valid JSON of the wrong shape: either code names the fault.
      check_error_in(reply, {"invalid_message", "invalid_json"});
      check_keys(reply, {"type", "code", "message", "timestamp"});
    }
  }
  check_alive(ws);
}

BOOST_AUTO_TEST_CASE(unknown_type_is_unknown_type) {
  auto ws = open_ws(port());
  ws.send_text(R"({"type":"frobnicate","request_id":"u-1"})");
  check_error(ws.read_json(), "unknown_type", {}, "u-1");
  ws.send_text(R"({"type":"Subscribe","job_id":"job_1"})");
  check_error(ws.read_json(), "unknown_type", {}, {}, true);
  // Job events are for publishers, not for WebSocket clients.
  ws.send_text(R"({"type":"progress_update","job_id":"job_1","stage":"s",)"
               R"("progress":1,"message":"m","request_id":"u-2"})");
  auto reply = ws.read_json();
  check_error_in(reply, {"unknown_type", "invalid_message"});
  check_string(reply, "request_id", "u-2");
  check_alive(ws);
}

BOOST_AUTO_TEST_CASE(missing_or_ill_typed_fields_are_invalid_message) {
  auto ws = open_ws(port());
  auto job = unique_job_id("typed");
  auto with_job = [&](std::string_view rest) {
    return R"({"job_id":)" + q(job) + "," + std::string{rest};
  };
  const std::vector<std::string> bad = {
    R"({"request_id":"m"})",
    R"({"type":5,"request_id":"m"})",
    R"({"type":null,"request_id":"m"})",
    R"({"type":["ping"],"request_id":"m"})",
    R"({"type":{"t":"ping"},"request_id":"m"})",
    R"({"type":"subscribe","request_id":"m"})",
    R"({"type":"subscribe","job_id":5,"request_id":"m"})",
    R"({"type":"subscribe","job_id":null,"request_id":"m"})",
    R"({"type":"subscribe","job_id":["job_1"],"request_id":"m"})",
    R"({"type":"unsubscribe","request_id":"m"})",
    R"({"type":"request_status","request_id":"m"})",
    R"({"type":"cancel_job","request_id":"m"})",
    with_job(R"("type":"subscribe","since_seq":-1,"request_id":"m"})"),
    with_job(R"("type":"subscribe","since_seq":"3","request_id":"m"})"),
    with_job(R"("type":"subscribe","since_seq":1.5,"request_id":"m"})"),
    with_job(R"("type":"subscribe","since_seq":true,"request_id":"m"})"),
    with_job(R"("type":"cancel_job","reason":5,"request_id":"m"})"),
    with_job(R"("type":"cancel_job","reason":{},"request_id":"m"})"),
  };
  for (auto& x : bad) {
    BOOST_TEST_CONTEXT("sent: " << x) {
      ws.send_text(x);
      check_error(ws.read_json(), "invalid_message", {}, "m", true);
    }
  }
  // A request_id that is not a string of at most 128 characters.
  for (std::string x :
       {std::string{R"({"type":"ping","request_id":5})"},
        R"({"type":"ping","request_id":)" + q(std::string(129, 'r')) + "}"}) {
    BOOST_TEST_CONTEXT("sent: " << x) {
      ws.send_text(x);
      auto reply = ws.read_json();
      check_error_in(reply, {"invalid_message"});
    }
  }
  // None of that subscribed the connection to the job.
  publish(http, job, progress_event("s", 1, "m"));
  check_alive(ws);
}

BOOST_AUTO_TEST_CASE(invalid_job_ids_are_invalid_job_id) {
  auto ws = open_ws(port());
  const std::vector<std::string> bad_ids = {
    "",       std::string(129, 'a'),
    "bad id", "job/1",
    "job#1",  "j\u00f6b",
    "job\n1", "job*",
    "job?x",  "%41bc",
  };
  for (std::string type :
       {"subscribe", "unsubscribe", "request_status", "cancel_job"}) {
    for (auto& id : bad_ids) {
      BOOST_TEST_CONTEXT(type << " of " << q(id)) {
        ws.send_text(R"({"type":)" + q(type) + R"(,"job_id":)" + q(id)
                     + R"(,"request_id":"j"})");
        check_error(ws.read_json(), "invalid_job_id", {}, "j", true);
      }
    }
  }
  // The edges of the valid ones.
  std::string longest(128, 'z');
  for (std::string id : {longest, std::string{"x"}, std::string{"A.b_c:d-9"}}) {
    BOOST_TEST_CONTEXT("subscribe to " << id) {
      subscribe(ws, id);
    }
  }
  check_alive(ws);
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored) {
  auto ws = open_ws(port());
  ws.send_text(R"({"type":"ping","request_id":"p","extra":{"x":[1,2]},)"
               R"("job_id":5})");
  auto pong = ws.read_json();
  check_string(pong, "type", "pong");
  check_string(pong, "request_id", "p");
  auto job = unique_job_id("extra");
  ws.send_text(R"({"type":"subscribe","job_id":)" + q(job)
               + R"(,"colour":"blue","request_id":"s"})");
  auto reply = ws.read_json();
  check_string(reply, "type", "subscribed");
  check_string(reply, "request_id", "s");
}

BOOST_AUTO_TEST_CASE(binary_frames_are_invalid_message) {
  auto ws = open_ws(port());
  ws.send_binary(R"({"type":"ping","request_id":"b"})");
  auto reply = ws.read_json();
  check_error(reply, "invalid_message");
  auto message = reply.find("message");
  BOOST_TEST(
    (message != nullptr && message->is_string()
     && message->as_string().find("binary") != std::string::npos),
    "the message should say binary frames are not supported: " << reply);
  ws.send_binary(std::string("\x00\x01\xff", 3));
  check_error(ws.read_json(), "invalid_message");
  check_alive(ws);
}

BOOST_AUTO_TEST_CASE(too_many_subscriptions) {
  auto ws = open_ws(port());
  std::vector<std::string> jobs;
  for (int i = 0; i < max_subscriptions; ++i) {
    jobs.push_back(unique_job_id("many"));
    subscribe(ws, jobs.back());
  }
  auto one_more = unique_job_id("many");
  ws.send_text(R"({"type":"subscribe","job_id":)" + q(one_more)
               + R"(,"request_id":"t"})");
  check_error(ws.read_json(), "too_many_subscriptions", one_more, "t");
  // Subscribing again to a followed job is no new subscription.
  subscribe(ws, jobs.front());
  // Events of the refused job don't reach the connection.
  publish(http, one_more, progress_event("s", 1, "m"));
  check_alive(ws);
  // After an unsubscribe there is room again.
  ws.send_text(R"({"type":"unsubscribe","job_id":)" + q(jobs.back()) + "}");
  check_string(ws.read_json(), "type", "unsubscribed");
  subscribe(ws, one_more);
}

// -- frame sizes, fragments, UTF-8 --------------------------------------------

BOOST_AUTO_TEST_CASE(message_of_exactly_the_limit_is_accepted) {
  auto ws = open_ws(port());
  auto text = padded_ping("exact", max_message_bytes);
  BOOST_TEST_REQUIRE(text.size() == max_message_bytes);
  ws.send_text(text);
  auto pong = ws.read_json();
  check_string(pong, "type", "pong");
  check_string(pong, "request_id", "exact");
}

BOOST_AUTO_TEST_CASE(message_over_the_limit_closes_1009) {
  auto ws = open_ws(port());
  ws.send_text(padded_ping("over", max_message_bytes + 1));
  auto result = ws.wait_close();
  BOOST_TEST((result.close_frame && result.code == 1009),
             "expected close 1009, got " << result.to_string());
  // The same over a raw socket: the close frame, then the TCP close.
  raw_socket s;
  raw_upgrade(s, port());
  s.send_frame(ws_opcode::text, padded_ping("over", max_message_bytes + 1));
  check_closed_with(s, {1009});
}

BOOST_AUTO_TEST_CASE(limit_counts_the_joined_fragments) {
  auto half = max_message_bytes / 2;
  {
    // Two fragments of exactly the limit together: accepted.
    raw_socket s;
    raw_upgrade(s, port());
    auto text = padded_ping("joined", max_message_bytes);
    s.send_frame(ws_opcode::text, text.substr(0, half), false);
    s.send_frame(ws_opcode::continuation, text.substr(half), true);
    BOOST_TEST(raw_read_pong(s, "joined"));
  }
  {
    // Two fragments under the limit each, one byte over together.
    raw_socket s;
    raw_upgrade(s, port());
    auto text = padded_ping("joined", max_message_bytes + 1);
    s.send_frame(ws_opcode::text, text.substr(0, half), false);
    s.send_frame(ws_opcode::continuation, text.substr(half), true);
    check_closed_with(s, {1009});
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_closes_1007) {
  for (std::string bad : {std::string{"\xff"}, std::string{"\xc0\xaf"},
                          std::string{"\xed\xa0\x80"}, std::string{"\xe2\x82"},
                          std::string{"\xf8\x88\x80\x80\x80"}}) {
    BOOST_TEST_CONTEXT("bytes " << bad.size()) {
      raw_socket s;
      raw_upgrade(s, port());
      s.send_frame(ws_opcode::text,
                   R"({"type":"ping","request_id":")" + bad + "\"}");
      check_closed_with(s, {1007});
    }
  }
  // A truncated sequence at the very end of the message.
  raw_socket s;
  raw_upgrade(s, port());
  s.send_frame(ws_opcode::text, "{\"type\":\"ping\"}\xe2\x82");
  check_closed_with(s, {1007});
}

BOOST_AUTO_TEST_CASE(utf8_is_checked_across_fragments) {
  {
    // A euro sign split between two fragments is valid.
    raw_socket s;
    raw_upgrade(s, port());
    s.send_frame(ws_opcode::text,
                 "{\"type\":\"ping\",\"request_id\":\"\xe2\x82", false);
    s.send_frame(ws_opcode::continuation, "\xac\"}", true);
    BOOST_TEST(raw_read_pong(s, "\xe2\x82\xac"));
  }
  {
    // A sequence that a later fragment breaks is not.
    raw_socket s;
    raw_upgrade(s, port());
    s.send_frame(ws_opcode::text,
                 "{\"type\":\"ping\",\"request_id\":\"\xe2\x82", false);
    s.send_frame(ws_opcode::continuation, "x\"}", true);
    check_closed_with(s, {1007});
  }
}

BOOST_AUTO_TEST_CASE(exactly_max_fragments_is_accepted) {
  raw_socket s;
  raw_upgrade(s, port());
  std::string text = R"({"type":"ping","request_id":"frags"})";
  // max_fragments frames: the first, empty ones, the last.
  s.send_frame(ws_opcode::text, text.substr(0, 10), false);
  for (int i = 0; i < max_fragments - 2; ++i)
    s.send_frame(ws_opcode::continuation, "", false);
  s.send_frame(ws_opcode::continuation, text.substr(10), true);
  BOOST_TEST(raw_read_pong(s, "frags"));
}

BOOST_AUTO_TEST_CASE(one_fragment_too_many_closes) {
  raw_socket s;
  raw_upgrade(s, port());
  std::string text = R"({"type":"ping","request_id":"frags"})";
  s.send_frame(ws_opcode::text, text.substr(0, 10), false);
  for (int i = 0; i < max_fragments - 1; ++i)
    s.send_frame(ws_opcode::continuation, "", false);
  s.send_frame(ws_opcode::continuation, text.substr(10), true);
  check_closed_with(s, {1009, 1008});
}

BOOST_AUTO_TEST_CASE(endless_empty_fragments_close) {
  raw_socket s;
  raw_upgrade(s, port());
  s.send_frame(ws_opcode::text, "{", false);
  // Empty fragments never grow the message: only a fragment limit stops
  // them. Stop sending as soon as the server answers.
  auto empty = raw_socket::make_frame(ws_opcode::continuation, "", false);
  int sent = 0;
  for (; sent < 100000; ++sent) {
    if (sent % 16 == 0 && s.readable(0ms))
      break;
    if (!s.send(empty))
      break;
  }
  BOOST_TEST_MESSAGE("sent " << sent << " empty fragments");
  check_closed_with(s, {1009, 1008});
}

BOOST_AUTO_TEST_CASE(unmasked_and_reserved_frames_close) {
  {
    raw_socket s;
    raw_upgrade(s, port());
    s.send(raw_socket::make_frame(ws_opcode::text, R"({"type":"ping"})", true,
                                  false));
    auto result = s.read_close();
    BOOST_TEST((result.close_frame || result.eof),
               "an unmasked client frame must end the connection: "
                 << result.to_string());
    BOOST_TEST(result.eof, result.to_string());
  }
  {
    raw_socket s;
    raw_upgrade(s, port());
    s.send_frame(static_cast<ws_opcode>(0x3), "x");
    auto result = s.read_close();
    BOOST_TEST(result.eof, "a reserved opcode must end the connection: "
                             << result.to_string());
  }
}

// -- handshakes ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(good_handshake_has_the_rfc_accept_value) {
  raw_socket s;
  s.connect(port());
  auto reply = s.handshake(port());
  BOOST_TEST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 101);
  BOOST_TEST(reply->header("sec-websocket-accept") == rfc_sample_accept);
  auto hello = s.read_frame();
  BOOST_TEST_REQUIRE(hello.has_value());
  BOOST_TEST((hello->opcode == ws_opcode::text && !hello->masked));
  check_string(json_value::parse(hello->payload), "type", "connected");
}

BOOST_AUTO_TEST_CASE(frames_packed_or_split_any_way_are_all_answered) {
  // Between messages the server waits for bytes without a read in flight
  // and takes a lone pong itself; whatever else arrives is Beast's. Every
  // way of packing commands, pings and pongs must still be answered, the
  // commands in order (a pong may come before an earlier command's reply:
  // Beast answers pings as it reads).
  raw_socket s;
  s.connect(port());
  auto reply = s.handshake(port());
  BOOST_TEST_REQUIRE((reply.has_value() && reply->status == 101));
  BOOST_TEST_REQUIRE(s.read_frame().has_value()); // connected
  auto cmd = [](const char* id) {
    return raw_socket::make_frame(
      ws_opcode::text, std::string{R"({"type":"ping","request_id":")"} + id
                         + "\"}");
  };
  // Reads until the replies to `ids` and pongs with `pongs` came; what
  // came, in order: "id" for a reply, "pong:payload" for a pong frame.
  auto expect = [&](std::vector<std::string> ids,
                    std::vector<std::string> pongs) {
    std::vector<std::string> replies;
    std::vector<std::string> pong_payloads;
    while (replies.size() < ids.size() || pong_payloads.size() < pongs.size()) {
      auto f = s.read_frame();
      BOOST_TEST_REQUIRE(f.has_value(), "missing after replies "
                                          << replies.size() << " and pongs "
                                          << pong_payloads.size());
      if (f->opcode == ws_opcode::pong) {
        pong_payloads.push_back(f->payload);
        continue;
      }
      BOOST_TEST_REQUIRE((f->opcode == ws_opcode::text),
                         "opcode " << int(f->opcode));
      auto x = json_value::parse(f->payload);
      check_string(x, "type", "pong");
      replies.push_back(x["request_id"].as_string());
    }
    BOOST_TEST(replies == ids, boost::test_tools::per_element());
    BOOST_TEST(pong_payloads == pongs, boost::test_tools::per_element());
  };
  // Two commands and a ping in one write: two replies and a pong frame.
  BOOST_TEST(s.send(cmd("a") + raw_socket::make_frame(ws_opcode::ping, "hb")
                    + cmd("b")));
  expect({"a", "b"}, {"hb"});
  // An unasked-for pong (taken by the server itself) with a command
  // behind it in the same write.
  BOOST_TEST(s.send(raw_socket::make_frame(ws_opcode::pong, "x") + cmd("c")));
  expect({"c"}, {});
  // A lone pong, then a command: nothing answers the pong.
  BOOST_TEST(s.send(raw_socket::make_frame(ws_opcode::pong, "")));
  BOOST_TEST(s.send(cmd("d")));
  expect({"d"}, {});
  // A pong and a command split a byte at a time.
  auto bytes = raw_socket::make_frame(ws_opcode::pong, "yy") + cmd("e");
  for (char c : bytes) {
    BOOST_TEST_REQUIRE(s.send(std::string_view{&c, 1}));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  expect({"e"}, {});
  // A ping last in a write after a command: answered, and the connection
  // goes on.
  BOOST_TEST(s.send(cmd("f") + raw_socket::make_frame(ws_opcode::ping, "p")));
  expect({"f"}, {"p"});
  BOOST_TEST(s.send(cmd("g")));
  expect({"g"}, {});
  // Nothing else was sent.
  BOOST_TEST(!s.read_frame(std::chrono::milliseconds(200)).has_value());
}

BOOST_AUTO_TEST_CASE(upgrade_on_another_path_is_404) {
  for (std::string path :
       {"/", "/v1/other", "/v1/ws/extra", "/v1/wsx", "/ws", "/v1/jobs/job_1"}) {
    BOOST_TEST_CONTEXT("path " << path) {
      raw_socket s;
      s.connect(port());
      auto reply = s.handshake(port(), path);
      BOOST_TEST_REQUIRE(reply.has_value(), "no response");
      BOOST_TEST(reply->status == 404);
    }
  }
  // Beast's client sees the same.
  ws_client ws;
  BOOST_TEST(ws.try_connect(port(), "/v1/other") == 404);
}

BOOST_AUTO_TEST_CASE(malformed_websocket_key_is_400) {
  // base64 of 16 bytes is 24 characters ending in "==".
  const std::vector<std::string> keys = {
    "abc",                          // too short
    "!!!!!!!!!!!!!!!!!!!!!!==",     // not base64
    "dGhlIHNhbXBsZSBub25j",         // 15 bytes
    "dGhlIHNhbXBsZSBub25jZTE=",     // 17 bytes
    "dGhlIHNhbXBsZSBub25jZQ",       // 16 bytes without padding
    "dGhlIHNhbXBsZSBub25jZQ==dGhl", // too long
  };
  for (auto& key : keys) {
    BOOST_TEST_CONTEXT("key " << key) {
      raw_socket s;
      s.connect(port());
      auto reply = s.handshake(port(), "/v1/ws", key);
      BOOST_TEST_REQUIRE(reply.has_value(), "no response");
      BOOST_TEST(reply->status == 400);
    }
  }
  raw_socket s;
  s.connect(port());
  auto reply = s.handshake(port(), "/v1/ws", std::nullopt);
  BOOST_TEST_REQUIRE(reply.has_value(), "no response without a key");
  BOOST_TEST(reply->status == 400);
}

BOOST_AUTO_TEST_CASE(another_websocket_version_is_426_in_json) {
  // Beast answered it with a plain-text body; every other refusal is JSON.
  raw_socket s;
  s.connect(port());
  BOOST_REQUIRE(s.send("GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
  auto reply = s.read_http_reply();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 426);
  BOOST_TEST(reply->header("sec-websocket-version") == "13");
  BOOST_TEST(json_value::parse(reply->body)["code"].as_string()
             == "invalid_message");
}

BOOST_AUTO_TEST_CASE(slow_handshake_is_closed) {
  raw_socket s;
  auto start = std::chrono::steady_clock::now();
  s.connect(port());
  BOOST_TEST_REQUIRE(s.send("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  auto closed = s.wait_eof(5s);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start);
  BOOST_TEST(closed, "a partial request stayed open for 5 s");
  BOOST_TEST(elapsed.count() >= handshake_timeout.count() * 8 / 10,
             "closed after " << elapsed.count() << " ms, before the timeout");
}

BOOST_AUTO_TEST_CASE(silent_connection_is_closed) {
  raw_socket s;
  s.connect(port());
  BOOST_TEST(s.wait_eof(5s), "a connection that sent nothing stayed open");
}

BOOST_AUTO_TEST_CASE(trickled_request_is_closed) {
  // A byte every 100 ms never idles, yet never completes the request.
  raw_socket s;
  auto start = std::chrono::steady_clock::now();
  s.connect(port());
  std::string request = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  bool closed = false;
  for (char c : request) {
    if (!s.send(std::string_view{&c, 1}) || s.wait_eof(100ms)) {
      closed = true;
      break;
    }
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start);
  BOOST_TEST(closed,
             "a trickled request stayed open for " << elapsed.count() << " ms");
  BOOST_TEST(elapsed.count() < 3000,
             "closed only after " << elapsed.count() << " ms");
}

// -- HTTP ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unknown_paths_are_404) {
  for (std::string target :
       {"/nope", "/v1", "/v1/jobs", "/v1/jobs/job_1/unknown",
        "/v1/jobs/job_1/events/extra", "/v2/jobs/job_1"}) {
    BOOST_TEST_CONTEXT("GET " << target) {
      check_http_error(http.get(target), 404);
    }
  }
  check_http_error(
    http.post("/v1/jobs/job_1/events/extra", progress_event("s", 1, "m")), 404);
}

BOOST_AUTO_TEST_CASE(pages_of_other_sites_may_not_connect_publish_or_cancel) {
  auto job = unique_job_id("csrf");
  publish(http, job, progress_event("s", 1, "m"));
  auto upgrade = [&](const std::string& origin) {
    raw_socket s;
    s.connect(port());
    s.send("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port())
           + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: "
           + origin + "\r\n\r\n");
    auto reply = s.read_http_reply();
    return reply ? reply->status : 0;
  };
  auto post = [&](const std::string& path, const std::string& origin) {
    return http.request("POST", path, R"({"type":"job_failed","error":{"code":"x","message":"forged"}})",
                        {{"Content-Type", "text/plain"}, {"Origin", origin}});
  };
  auto own = "http://127.0.0.1:" + std::to_string(port());
  // A page of this server (the watch page) and programs (no Origin) may.
  BOOST_TEST(upgrade(own) == 101);
  // Any other page, on the user's own machine included, may not: it could
  // follow jobs, cancel them, or publish forged events.
  for (auto origin : {std::string{"https://evil.example"},
                      std::string{"http://127.0.0.1:1"}, std::string{"null"}}) {
    BOOST_TEST_CONTEXT(origin) {
      BOOST_TEST(upgrade(origin) == 403);
      check_http_error(post(job_path(job) + "/events", origin), 403,
                       "unauthorized");
      check_http_error(post(job_path(job) + "/cancel", origin), 403,
                       "unauthorized");
    }
  }
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "running");
  check_int(res.json(), "last_seq", 1);
}

BOOST_AUTO_TEST_CASE(an_http_1_1_request_needs_one_host) {
  for (auto hosts : {std::string{}, std::string{"Host: a\r\nHost: b\r\n"}}) {
    BOOST_TEST_CONTEXT("'" << hosts << "'") {
      raw_socket s;
      s.connect(port());
      s.send("GET /healthz HTTP/1.1\r\n" + hosts + "\r\n");
      auto reply = s.read_http_reply();
      BOOST_REQUIRE(reply.has_value());
      BOOST_TEST(reply->status == 400);
      BOOST_TEST(reply->body.find("Host") != std::string::npos, reply->body);
    }
  }
  // HTTP/1.0 has no Host to require.
  raw_socket s;
  s.connect(port());
  s.send("GET /healthz HTTP/1.0\r\n\r\n");
  auto reply = s.read_http_reply();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 200);
}

BOOST_AUTO_TEST_CASE(a_body_without_a_known_end_is_never_a_request) {
  // RFC 9112 section 6: a Transfer-Encoding that does not end in chunked
  // leaves the body's end unknown. Read as no body, this body was taken
  // for a second request and published (a smuggled request, for a proxy
  // that frames it otherwise).
  std::string event
    = R"({"type":"progress_update","stage":"s","progress":1,"message":"m"})";
  std::string smuggled = "POST /v1/jobs/smuggled_job/events HTTP/1.1\r\n"
                         "Host: x\r\nContent-Length: "
                         + std::to_string(event.size()) + "\r\n\r\n" + event;
  struct framing_case {
    std::string headers;
    int status;
  };
  const std::vector<framing_case> cases = {
    {"Transfer-Encoding: gzip\r\n", 400},
    {"Transfer-Encoding: chunked, gzip\r\n", 400},
    {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
    {"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", 400},
    {"Transfer-Encoding: gzip, chunked\r\n", 501},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT(c.headers) {
      raw_socket s;
      s.connect(port());
      s.send("POST /v1/jobs/framed_job/events HTTP/1.1\r\nHost: x\r\n"
             + c.headers + "\r\n" + smuggled);
      auto reply = s.read_http_reply();
      BOOST_REQUIRE(reply.has_value());
      BOOST_TEST(reply->status == c.status);
      check_string(json_value::parse(reply->body), "code", "invalid_message");
      // Nothing after the answer: the connection ends.
      BOOST_TEST(s.wait_eof());
    }
  }
  check_http_error(http.get("/v1/jobs/smuggled_job"), 404);
  check_http_error(http.get("/v1/jobs/framed_job"), 404);
  // chunked alone, in any case, is read as before.
  raw_socket s;
  s.connect(port());
  std::ostringstream chunk;
  chunk << std::hex << event.size() << "\r\n" << event << "\r\n0\r\n\r\n";
  s.send("POST /v1/jobs/framed_job/events HTTP/1.1\r\nHost: x\r\n"
         "Transfer-Encoding: Chunked\r\n\r\n"
         + chunk.str());
  auto reply = s.read_http_reply();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 202, reply->body);
}

BOOST_AUTO_TEST_CASE(wrong_methods_are_405) {
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"DELETE", "/v1/jobs/job_1"},
    {"PUT", "/v1/jobs/job_1/events"},
    {"GET", "/v1/jobs/job_1/events"},
    {"GET", "/v1/jobs/job_1/cancel"},
    {"POST", "/v1/jobs/job_1"},
    {"POST", "/v1/jobs/job_1/connections"},
    {"POST", "/healthz"},
    {"PATCH", "/v1/jobs/job_1/events"},
  };
  for (auto& [method, target] : cases) {
    BOOST_TEST_CONTEXT(method << " " << target) {
      auto res = method == "GET" || method == "DELETE"
                   ? http.request(method, target)
                   : http.request(method, target, std::string_view{"{}"});
      check_http_error(res, 405);
    }
  }
}

BOOST_AUTO_TEST_CASE(body_over_the_limit_is_413) {
  auto job = unique_job_id("big");
  // A valid event of exactly the limit is stored.
  std::string head = R"({"type":"progress_update","stage":"s","progress":1,)"
                     R"("message":")";
  std::string tail = "\"}";
  auto exact = head
               + std::string(max_message_bytes - head.size() - tail.size(), 'm')
               + tail;
  BOOST_TEST_REQUIRE(exact.size() == max_message_bytes);
  BOOST_TEST(publish(http, job, exact) == 1);
  // One byte more is not.
  auto over
    = head + std::string(max_message_bytes + 1 - head.size() - tail.size(), 'm')
      + tail;
  http_client fresh{port()};
  check_http_error(fresh.post(events_path(job), over), 413,
                   "message_too_large");
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_int(res.json(), "last_seq", 1);
}

BOOST_AUTO_TEST_CASE(invalid_event_bodies_are_400) {
  // Each bad body goes to a job of its own, which it must not create.
  auto post = [&](const std::string& body) {
    auto job = unique_job_id("badevent");
    auto res = http.post(events_path(job), body);
    check_http_error(http.get(job_path(job)), 404, "job_not_found");
    return res;
  };
  for (std::string body : {"{", "", "nope", R"({"type":"progress_update",})"}) {
    BOOST_TEST_CONTEXT("body " << body) {
      check_http_error(post(body), 400, "invalid_json");
    }
  }
  for (std::string body : {"[]", "42", "null"}) {
    BOOST_TEST_CONTEXT("body " << body) {
      auto res = post(body);
      check_http_error(res, 400);
      auto code_body = res.json(); // find() points into it
      auto code = code_body.find("code");
      BOOST_TEST((code != nullptr && code->is_string()
                  && (code->as_string() == "invalid_message"
                      || code->as_string() == "invalid_json")),
                 res.body);
    }
  }
  check_http_error(post(R"({"type":"job_exploded"})"), 400, "unknown_type");
  const std::vector<std::string> invalid = {
    R"({"stage":"s","progress":1,"message":"m"})",
    R"({"type":5,"stage":"s","progress":1,"message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":-1,"message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":100.5,"message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":101,"message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":1e400,"message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":"50","message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":null,"message":"m"})",
    R"({"type":"progress_update","stage":"s","message":"m"})",
    R"({"type":"progress_update","stage":7,"progress":1,"message":"m"})",
    R"({"type":"progress_update","stage":"s","progress":1,"message":7})",
    R"({"type":"progress_update","stage":"s","progress":1,"message":"m",)"
    R"("estimated_seconds_remaining":-1})",
    R"({"type":"progress_update","stage":"s","progress":1,"message":"m",)"
    R"("estimated_seconds_remaining":"soon"})",
    R"({"type":"progress_update","stage":"s","progress":1,"message":"m",)"
    R"("estimated_seconds_remaining":1e400})",
    R"({"type":"progress_update","stage":"s","progress":1,"message":"m",)"
    R"("correlation_id":5})",
    R"({"type":"progress_update","stage":"s","progress":1,"message":"m",)"
    R"("event_id":)"
      + q(std::string(129, 'e')) + "}",
    R"({"type":"stage_complete","stage":"s","results":[]})",
    R"({"type":"stage_complete","stage":"s","results":"done"})",
    R"({"type":"stage_complete","results":{}})",
    R"({"type":"job_complete","results":5})",
    R"({"type":"job_failed"})",
    R"({"type":"job_failed","error":"boom"})",
    R"({"type":"job_failed","error":{"message":"no code"}})",
    R"({"type":"job_failed","error":{"code":"c"}})",
    R"({"type":"job_failed","error":{"code":5,"message":"m"}})",
    R"({"type":"job_cancelled","reason":5})",
  };
  for (auto& body : invalid) {
    BOOST_TEST_CONTEXT("body " << body) {
      check_http_error(post(body), 400, "invalid_message");
    }
  }
  // Refused bodies use no seq: a job's first good event is seq 1.
  auto job = unique_job_id("badevent");
  for (auto& body : invalid)
    http.post(events_path(job), body);
  http.post(events_path(job), "{");
  auto res = http.post(events_path(job), progress_event("s", 1, "m"));
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  check_int(res.json(), "seq", 1);
  // `results` may be left out of job_complete: it is then {}.
  res = http.post(events_path(job), R"({"type":"job_complete"})");
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  check_int(res.json(), "seq", 2);
}

BOOST_AUTO_TEST_CASE(a_crawling_progress_gets_no_eta_and_stalls_nothing) {
  // Progress up by the smallest double: the rate estimate would be an
  // infinite ETA, which CAF 0.17 cannot serialise (it loops for ever; the
  // store's actor thread hung and the publish timed out).
  auto job = unique_job_id("crawl");
  auto res = http.post(events_path(job), progress_event("s", 0, "m"));
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  res = http.post(events_path(job),
                  R"({"type":"progress_update","stage":"s","progress":5e-324})");
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  check_int(res.json(), "seq", 2);
  auto snap = http.get(job_path(job));
  BOOST_TEST_REQUIRE(snap.status == 200, snap.to_string());
  auto body = snap.json();
  auto eta = body.find("estimated_seconds_remaining");
  BOOST_TEST((eta != nullptr && eta->is_null()), snap.body);
  // And the next job is served as usual.
  res = http.post(events_path(unique_job_id("crawl")),
                  progress_event("s", 1, "m"));
  BOOST_TEST(res.status == 202, res.to_string());
}

BOOST_AUTO_TEST_CASE(invalid_job_ids_in_paths_are_400) {
  std::string long_id(129, 'a');
  for (std::string id : {std::string{"bad!id"}, long_id, std::string{"a$b"},
                         std::string{"job*"}}) {
    BOOST_TEST_CONTEXT("job id " << id) {
      check_http_error(http.post(events_path(id), progress_event("s", 1, "m")),
                       400, "invalid_job_id");
      check_http_error(http.get(job_path(id)), 400, "invalid_job_id");
      check_http_error(http.post(job_path(id) + "/cancel", "{}"), 400,
                       "invalid_job_id");
      check_http_error(http.get(job_path(id) + "/connections"), 400,
                       "invalid_job_id");
    }
  }
}

BOOST_AUTO_TEST_CASE(garbage_instead_of_http) {
  for (std::string garbage :
       {std::string{"HELLO\r\n\r\n"}, std::string{"GET\r\n\r\n"},
        std::string{"GET / HTTP/9.9\r\n\r\n"},
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
    raw_socket s;
    s.connect(port());
    s.send(garbage);
    // A 400 or a close, within the handshake timeout; never a hang.
    auto reply = s.read_http_reply(3s);
    if (reply)
      BOOST_TEST((reply->status >= 400 && reply->status < 600),
                 "status " << reply->status);
    else
      BOOST_TEST(s.wait_eof(3s), "garbage left the connection open");
  }
}

BOOST_AUTO_TEST_SUITE_END()
