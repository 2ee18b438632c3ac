// Test helpers shared by every module's tests (leveldb testutil.h).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/status.h"

#define ASSERT_OK(expr)                                                          \
  do {                                                                           \
    const auto& sinyal_s_ = (expr);                                              \
    ASSERT_TRUE(sinyal_s_.ok()) << ::sinyal::testing::Describe(sinyal_s_);       \
  } while (0)
#define EXPECT_OK(expr)                                                          \
  do {                                                                           \
    const auto& sinyal_s_ = (expr);                                              \
    EXPECT_TRUE(sinyal_s_.ok()) << ::sinyal::testing::Describe(sinyal_s_);       \
  } while (0)

namespace sinyal::testing {

inline std::string Describe(const Status& s) { return s.ToString(); }
template <typename T>
std::string Describe(const Result<T>& r) { return r.ok() ? "ok" : r.error().ToString(); }

// The shared market data folder: $SINYAL_DATA_DIR, else ../shared/data/market beside the repo.
std::filesystem::path MarketDataDir();

// Call at the top of a test that needs the shared market data. When the folder is missing,
// the test FAILS under CI (env CI set) and is SKIPPED elsewhere with a message saying why.
#define SINYAL_REQUIRE_MARKET_DATA()                                                    \
  do {                                                                                  \
    std::string sinyal_why_;                                                            \
    if (!::sinyal::testing::MarketDataAvailable(&sinyal_why_)) {                        \
      if (std::getenv("CI") != nullptr) FAIL() << sinyal_why_;                          \
      GTEST_SKIP() << sinyal_why_;                                                      \
    }                                                                                   \
  } while (0)
bool MarketDataAvailable(std::string* why);

// PostgreSQL URL for tests: $SINYAL_TEST_PG_URL; empty when unset. Tests that need it use
// SINYAL_REQUIRE_POSTGRES(), which fails under CI and skips elsewhere.
std::string PostgresTestUrl();
#define SINYAL_REQUIRE_POSTGRES()                                                       \
  do {                                                                                  \
    if (::sinyal::testing::PostgresTestUrl().empty()) {                                 \
      if (std::getenv("CI") != nullptr) FAIL() << "SINYAL_TEST_PG_URL is not set in CI"; \
      GTEST_SKIP() << "SINYAL_TEST_PG_URL not set: start PostgreSQL with scripts/services.sh"; \
    }                                                                                   \
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
