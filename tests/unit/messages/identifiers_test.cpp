#define BOOST_TEST_MODULE identifiers
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <string_view>

#include "messages/identifiers.hpp"

using namespace jobwire;
using namespace std::literals;

BOOST_AUTO_TEST_CASE(max_id_length_is_128) {
  BOOST_TEST(max_id_length == 128u);
}

BOOST_AUTO_TEST_CASE(valid_job_ids) {
  std::string ids[] = {
    "a", "Z", "0", "job_20240115_abc123", "A-Z.a_z:0-9", "...", "-", ":",
    std::string(128, 'x'),
  };
  for (auto& id : ids)
    BOOST_TEST(is_valid_job_id(id), "job id: " << id);
}

BOOST_AUTO_TEST_CASE(invalid_job_ids) {
  std::string ids[] = {
    "",
    std::string(129, 'x'),
    "job 1",
    " job",
    "job ",
    "job/1",
    "job\\1",
    "j\xc3\xb6" "b",
    "job\xe2\x80\xa8",
    "job\n",
    "job\t1",
    "job*",
    "job#1",
    "job?x=1",
    "job%20",
    "job+1",
    "job@host",
    "job,1",
    "job\"",
    "job'",
    "job\x7f",
    "job\0x"s,
  };
  for (auto& id : ids)
    BOOST_TEST(!is_valid_job_id(id), "job id: " << id);
}

BOOST_AUTO_TEST_CASE(connection_ids_have_the_documented_shape) {
  auto id = make_connection_id(1700000000000);
  BOOST_TEST(id.size() == "conn_1700000000000_"sv.size() + 16);
  BOOST_TEST(id.substr(0, 19) == "conn_1700000000000_");
  for (char c : id.substr(19))
    BOOST_TEST(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')),
               "character " << c);
  BOOST_TEST(is_valid_connection_id(id));
  BOOST_TEST(make_connection_id(0).substr(0, 7) == "conn_0_");
  BOOST_TEST(is_valid_connection_id(make_connection_id(0)));
}

BOOST_AUTO_TEST_CASE(connection_ids_are_random) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i)
    ids.insert(make_connection_id(1700000000000));
  BOOST_TEST(ids.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(valid_connection_ids) {
  BOOST_TEST(is_valid_connection_id("conn_1700000000000_9f86d081884c7d65"));
  BOOST_TEST(is_valid_connection_id("conn_0_0000000000000000"));
  BOOST_TEST(is_valid_connection_id("conn_1_ffffffffffffffff"));
}

BOOST_AUTO_TEST_CASE(invalid_connection_ids) {
  std::string ids[] = {
    "",
    "conn_",
    "conn__9f86d081884c7d65",
    "conn_17_9F86D081884C7D65",
    "conn_17_9f86d081884c7d6",
    "conn_17_9f86d081884c7d655",
    "conn_17_9f86d081884c7d6g",
    "con_17_9f86d081884c7d65",
    "Conn_17_9f86d081884c7d65",
    "xconn_17_9f86d081884c7d65",
    "conn_1a_9f86d081884c7d65",
    "conn_-1_9f86d081884c7d65",
    "conn_17-9f86d081884c7d65",
    "conn_1_2_9f86d081884c7d65",
    "conn_17_9f86d081884c7d65 ",
    "job_1",
  };
  for (auto& id : ids)
    BOOST_TEST(!is_valid_connection_id(id), "connection id: " << id);
}
