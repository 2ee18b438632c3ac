#include "core/testing/test_util.h"

#include <unistd.h>

#include <chrono>
#include <random>

namespace sinyal::testing {

namespace {
const char* DataDirEnv() {
  const char* env = std::getenv("SINYAL_DATA_DIR");
  return env != nullptr && *env != '\0' ? env : nullptr;
}
}  // namespace

std::filesystem::path SampleDataDir() {
  return std::filesystem::path(SINYAL_SOURCE_DIR) / "data" / "sample";
}

std::filesystem::path MarketDataDir() {
  if (const char* env = DataDirEnv()) return env;
  return std::filesystem::path(SINYAL_SOURCE_DIR) / ".." / "shared" / "data" / "market";
}

bool MarketDataAvailable(std::string* why) {
  auto dir = MarketDataDir();
  if (std::filesystem::exists(dir / "EURUSD_H1.csv") && std::filesystem::exists(dir / "alt_utc"))
    return true;
  *why = "this test needs the full market data set, not found at " + dir.string() +
         " (set SINYAL_DATA_DIR to the folder holding EURUSD_H1.csv and alt_utc/; the repo's "
         "data/sample "
         "is only a slice)";
  return false;
}

bool MarketDataExpected() {
  return DataDirEnv() != nullptr ||
         std::filesystem::exists(std::filesystem::path(SINYAL_SOURCE_DIR) / ".." / "shared");
}

std::string PostgresTestUrl() {
  const char* env = std::getenv("SINYAL_TEST_PG_URL");
  if (env == nullptr || *env == '\0') return "";
  // One schema per test process (ctest runs each test in its own), named with its start time so
  // scripts/test.sh can drop those of earlier runs: tests never see rows another run (or another
  // branch's migrations) left in the database's default schema.
  static const std::string schema =
      "e2e_" +
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()) +
      "_" + std::to_string(getpid());
  const std::string url = env;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema;
}

TempDir::TempDir() {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    auto p = std::filesystem::temp_directory_path() / ("sinyal-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("TempDir: could not create a directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sinyal::testing
