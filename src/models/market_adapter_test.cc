#include "models/market_adapter.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/clock.h"
#include "core/testing/test_util.h"

namespace sinyal::models {
namespace {

std::vector<market::Bar> Bars(const std::vector<double>& closes) {
  std::vector<market::Bar> bars;
  for (size_t i = 0; i < closes.size(); ++i) {
    auto b = market::Bar::Create(static_cast<UnixNanos>(i) * kNanosPerHour, closes[i], closes[i],
                                 closes[i], closes[i]);
    EXPECT_OK(b.status());
    bars.push_back(*b);
  }
  return bars;
}

TEST(InferDigitsTest, DecimalsOfTheQuotes) {
  EXPECT_EQ(InferDigits(Bars({1.08123, 1.0815, 1.08})), 5);  // a 5-digit FX pair
  EXPECT_EQ(InferDigits(Bars({151.234, 151.2, 150.0})), 3);  // a JPY pair
  EXPECT_EQ(InferDigits(Bars({2034.56, 2035.1})), 2);        // gold
  EXPECT_EQ(InferDigits(Bars({38000.0, 38001.0})), 0);       // an index in whole points
  EXPECT_EQ(InferDigits(Bars({})), 0);
}

TEST(InferDigitsTest, SmallPrices) {
  EXPECT_EQ(InferDigits(Bars({0.00012345, 0.0001234})), 8);
  EXPECT_EQ(InferDigits(Bars({0.012345})), 6);
}

}  // namespace
}  // namespace sinyal::models
