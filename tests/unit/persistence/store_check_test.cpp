#define BOOST_TEST_MODULE store_check
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "persistence/record_codec.hpp"
#include "persistence/storage.hpp"
#include "persistence/store_check.hpp"
#include "support/temp_dir.hpp"

#include <unistd.h>

using namespace jobwire;
using namespace std::chrono_literals;
using test::temp_dir;

namespace {

/// A store in `dir` holding `jobs` job records, closed again.
void fill(const std::string& dir, int jobs) {
  env_options opts;
  opts.path = dir;
  opts.map_size = size_t{8} << 20;
  opts.max_map_size = size_t{8} << 20;
  std::string error;
  auto db = open_storage(opts, error);
  BOOST_REQUIRE_MESSAGE(db != nullptr, error);
  lmdb_txn txn{db->env, lmdb_txn::read_write};
  for (int i = 0; i < jobs; ++i) {
    job_record rec;
    rec.snapshot.job_id = "job_" + std::to_string(i);
    rec.snapshot.stage = std::string(200, 's');
    db->store.put_job(txn, rec);
  }
  txn.commit();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_directory_without_a_store_has_nothing_to_read) {
  // Reported apart from a store read whole, which the server logs.
  temp_dir dir;
  auto check = check_store_reads(dir.path, 10s);
  BOOST_TEST(check.what == store_check::nothing_stored);
  BOOST_TEST(check.message.empty());
}

BOOST_AUTO_TEST_CASE(a_sound_store_is_read_whole) {
  temp_dir dir;
  fill(dir.path, 500);
  auto check = check_store_reads(dir.path, 60s);
  BOOST_TEST(check.what == store_check::whole, check.message);
}

BOOST_AUTO_TEST_CASE(pages_overwritten_past_the_meta_pages_are_damage) {
  temp_dir dir;
  fill(dir.path, 500);
  auto file = std::filesystem::path{dir.path} / "data.mdb";
  auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  auto size = std::filesystem::file_size(file);
  BOOST_REQUIRE(size > 4 * page);
  {
    std::fstream out{file, std::ios::in | std::ios::out | std::ios::binary};
    std::vector<char> junk(size - 2 * page, '\xa5');
    out.seekp(static_cast<std::streamoff>(2 * page));
    out.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto check = check_store_reads(dir.path, 60s);
  BOOST_TEST(check.what == store_check::damaged, check.message);
  BOOST_TEST(check.message.find(file.string() + " is damaged")
               != std::string::npos,
             check.message);
}
