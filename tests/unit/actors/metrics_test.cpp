#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "actors/metrics.hpp"

using namespace jobwire;
using namespace std::chrono_literals;

namespace {

/// The line of `text` that starts with `name` and a space, its value only.
std::string sample(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos)
    return "(missing)";
  at += name.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

} // namespace

BOOST_AUTO_TEST_CASE(commit_histogram_counts_each_commit_in_its_bucket) {
  metrics m;
  m.commit.observe(50us);
  m.commit.observe(300us);
  m.commit.observe(2ms);
  m.commit_writes += 7;
  auto text = m.render();
  const std::string h = "jobwire_commit_seconds";
  BOOST_TEST(sample(text, h + "_bucket{le=\"0.0001\"}") == "1");
  BOOST_TEST(sample(text, h + "_bucket{le=\"0.00025\"}") == "1");
  BOOST_TEST(sample(text, h + "_bucket{le=\"0.0005\"}") == "2");
  BOOST_TEST(sample(text, h + "_bucket{le=\"0.001\"}") == "2");
  BOOST_TEST(sample(text, h + "_bucket{le=\"0.0025\"}") == "3");
  BOOST_TEST(sample(text, h + "_bucket{le=\"+Inf\"}") == "3");
  BOOST_TEST(sample(text, h + "_count") == "3");
  BOOST_TEST(std::stod(sample(text, h + "_sum")) == 0.00235,
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(sample(text, "jobwire_commit_writes_total") == "7");
  BOOST_TEST(text.find("# TYPE jobwire_commit_seconds histogram\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(histograms_are_kept_apart) {
  metrics m;
  metrics::latency_tally frames;
  frames.add(20ms);
  frames.add(20ms);
  m.publish_to_send.observe(frames);
  auto text = m.render();
  BOOST_TEST(sample(text, "jobwire_publish_to_send_seconds_bucket{le=\"0.025\"}")
             == "2");
  BOOST_TEST(sample(text, "jobwire_publish_to_send_seconds_bucket{le=\"0.01\"}")
             == "0");
  BOOST_TEST(sample(text, "jobwire_publish_to_send_seconds_count") == "2");
  BOOST_TEST(sample(text, "jobwire_commit_seconds_count") == "0");
}

BOOST_AUTO_TEST_CASE(the_store_is_writable_until_a_commit_refuses) {
  metrics m;
  BOOST_TEST(sample(m.render(), "jobwire_store_writable") == "1");
  m.store_refusing = store_refusal::disk;
  m.refused_writes += 3;
  auto text = m.render();
  BOOST_TEST(sample(text, "jobwire_store_writable") == "0");
  BOOST_TEST(sample(text, "jobwire_store_refused_writes_total") == "3");
  m.store_refusing = store_refusal::none;
  BOOST_TEST(sample(m.render(), "jobwire_store_writable") == "1");
}

BOOST_AUTO_TEST_CASE(store_use_reports_free_pages_apart_from_the_high_water_mark) {
  metrics m;
  BOOST_TEST(sample(m.render(), "jobwire_lmdb_free_bytes") == "(missing)");
  m.store_use_source([] {
    metrics::store_use use;
    use.used = 8192;
    use.free = 4096;
    use.size = 1 << 20;
    return use;
  });
  auto text = m.render();
  BOOST_TEST(sample(text, "jobwire_lmdb_map_used_bytes") == "8192");
  BOOST_TEST(sample(text, "jobwire_lmdb_free_bytes") == "4096");
  BOOST_TEST(sample(text, "jobwire_lmdb_map_size_bytes") == "1048576");
  // Counts that could not be read are left out, not reported as 0.
  BOOST_TEST(sample(text, "jobwire_stored_jobs") == "(missing)");
}

BOOST_AUTO_TEST_CASE(store_use_reports_the_stored_records) {
  metrics m;
  m.store_use_source([] {
    metrics::store_use use;
    use.jobs = 3;
    use.events = 41;
    use.connections = 0;
    return use;
  });
  auto text = m.render();
  BOOST_TEST(sample(text, "jobwire_stored_jobs") == "3");
  BOOST_TEST(sample(text, "jobwire_stored_events") == "41");
  BOOST_TEST(sample(text, "jobwire_stored_connections") == "0");
}
