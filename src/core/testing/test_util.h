// Test helpers shared by every module's tests (leveldb testutil.h).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/status.h"

#define ASSERT_OK(expr)                                                    \
  do {                                                                     \
    const auto& sinyal_s_ = (expr);                                        \
    ASSERT_TRUE(sinyal_s_.ok()) << ::sinyal::testing::Describe(sinyal_s_); \
  } while (0)
#define EXPECT_OK(expr)                                                    \
  do {                                                                     \
    const auto& sinyal_s_ = (expr);                                        \
    EXPECT_TRUE(sinyal_s_.ok()) << ::sinyal::testing::Describe(sinyal_s_); \
  } while (0)

namespace sinyal::testing {

inline std::string Describe(const Status& s) { return s.ToString(); }
template <typename T>
std::string Describe(const Result<T>& r) {
  return r.ok() ? "ok" : r.error().ToString();
}

// Market data for tests comes from two places:
//  - SampleDataDir(): the repository's own data/sample (a few MB of real bars, see its README).
//    Always present, so a test that needs only a slice of real bars reads it from here and runs
//    everywhere, also in a clone without ../shared.
//  - MarketDataDir(): the full shared set, $SINYAL_DATA_DIR, else ../shared/data/market beside the
//    repo. Only long evaluations need it; they start with SINYAL_REQUIRE_MARKET_DATA().
std::filesystem::path SampleDataDir();
std::filesystem::path MarketDataDir();

// Call at the top of a test that needs the FULL shared market data set. When it is missing the
// test is SKIPPED with a message saying why; under CI (env CI set) it FAILS instead if the set
// was expected, i.e. ../shared exists beside the repo or SINYAL_DATA_DIR names a folder.
#define SINYAL_REQUIRE_MARKET_DATA()                                               \
  do {                                                                             \
    std::string sinyal_why_;                                                       \
    if (!::sinyal::testing::MarketDataAvailable(&sinyal_why_)) {                   \
      if (std::getenv("CI") != nullptr && ::sinyal::testing::MarketDataExpected()) \
        FAIL() << sinyal_why_;                                                     \
      GTEST_SKIP() << sinyal_why_;                                                 \
    }                                                                              \
  } while (0)
bool MarketDataAvailable(std::string* why);
// True when the full set should be there: ../shared exists or SINYAL_DATA_DIR is set.
bool MarketDataExpected();

// PostgreSQL URL for tests: $SINYAL_TEST_PG_URL with `schema=e2e_<start epoch>_<pid>` added
// (a schema of this test process alone, created by the first migration); empty when unset.
// Tests that need it use
// SINYAL_REQUIRE_POSTGRES(), which fails under CI and skips elsewhere.
std::string PostgresTestUrl();
#define SINYAL_REQUIRE_POSTGRES()                                                              \
  do {                                                                                         \
    if (::sinyal::testing::PostgresTestUrl().empty()) {                                        \
      if (std::getenv("CI") != nullptr) FAIL() << "SINYAL_TEST_PG_URL is not set in CI";       \
      GTEST_SKIP() << "SINYAL_TEST_PG_URL not set: start PostgreSQL with scripts/services.sh"; \
    }                                                                                          \
  } while (0)

// A fresh, empty temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sinyal::testing
