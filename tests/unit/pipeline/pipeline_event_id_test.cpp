#define BOOST_TEST_MODULE pipeline_event_id
#include <boost/test/unit_test.hpp>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "messages/identifiers.hpp"
#include "pipeline/event_id.hpp"

using jobwire::pipeline::event_id_source;

namespace {

bool is_lower_hex(const std::string& x) {
  for (auto c : x)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(ids_have_the_documented_shape) {
  event_id_source ids;
  BOOST_TEST(ids.prefix().size() == 16u);
  BOOST_TEST(is_lower_hex(ids.prefix()));
  BOOST_TEST(ids.next() == ids.prefix() + "-1");
  BOOST_TEST(ids.next() == ids.prefix() + "-2");
}

BOOST_AUTO_TEST_CASE(ids_fit_the_protocol_limit) {
  // Even with the largest counter: 16 + 1 + 20 characters.
  event_id_source ids;
  auto id = ids.prefix() + "-18446744073709551615";
  BOOST_TEST(id.size() <= jobwire::max_id_length);
  BOOST_TEST(ids.next().size() <= jobwire::max_id_length);
}

BOOST_AUTO_TEST_CASE(one_source_never_repeats) {
  event_id_source ids;
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 100000; ++i)
    BOOST_TEST_REQUIRE(seen.insert(ids.next()).second);
}

BOOST_AUTO_TEST_CASE(one_source_never_repeats_across_threads) {
  event_id_source ids;
  std::mutex mtx;
  std::unordered_set<std::string> seen;
  size_t total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 20000; ++i)
        mine.push_back(ids.next());
      std::lock_guard guard{mtx};
      total += mine.size();
      seen.insert(mine.begin(), mine.end());
    });
  for (auto& x : threads)
    x.join();
  BOOST_TEST(total == 80000u);
  BOOST_TEST(seen.size() == total);
}

BOOST_AUTO_TEST_CASE(sources_draw_different_prefixes) {
  // 64 random bits each: a repeat among 1000 would mean a broken generator.
  std::set<std::string> prefixes;
  for (int i = 0; i < 1000; ++i)
    prefixes.insert(event_id_source::random_prefix());
  BOOST_TEST(prefixes.size() == 1000u);
  event_id_source a;
  event_id_source b;
  BOOST_TEST(a.next() != b.next());
}

BOOST_AUTO_TEST_CASE(a_given_prefix_is_kept) {
  event_id_source ids{"fixed"};
  BOOST_TEST(ids.next() == "fixed-1");
}
