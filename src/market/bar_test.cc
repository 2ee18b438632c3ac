#include "market/bar.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/testing/test_util.h"

namespace sinyal::market {
namespace {

TEST(BarTest, CreatesValidBar) {
  auto b = Bar::Create(1000, 1.1, 1.2, 1.0, 1.15, 42, 3, 7);
  ASSERT_OK(b);
  EXPECT_EQ(b->time(), 1000);
  EXPECT_EQ(b->open(), 1.1);
  EXPECT_EQ(b->high(), 1.2);
  EXPECT_EQ(b->low(), 1.0);
  EXPECT_EQ(b->close(), 1.15);
  EXPECT_EQ(b->volume(), 42);
  EXPECT_EQ(b->spread(), 3);
  EXPECT_EQ(b->real_volume(), 7);
  // Flat bar is fine.
  EXPECT_OK(Bar::Create(0, 2, 2, 2, 2));
}

TEST(BarTest, RejectsInconsistentBars) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    double o, h, l, c, v;
    const char* field;
    const char* message;
  } cases[] = {
      {1.1, 1.0, 1.2, 1.1, 0, "high", "high 1 is below low 1.2"},
      {1.1, 1.05, 1.0, 1.0, 0, "high", "high 1.05 is below open 1.1"},
      {1.0, 1.05, 1.0, 1.1, 0, "high", "high 1.05 is below close 1.1"},
      {1.0, 1.2, 1.05, 1.1, 0, "low", "low 1.05 is above open 1"},
      {0, 1.2, 1.0, 1.1, 0, "open", "open 0 is not a positive price"},
      {1.1, 1.2, -1, 1.1, 0, "low", "low -1 is not a positive price"},
      {1.1, 1.2, 1.0, nan, 0, "close", "close is NaN"},
      {1.1, inf, 1.0, 1.1, 0, "high", "high is infinite"},
      {1.1, 1.2, 1.0, 1.1, -5, "volume", "volume -5 must be finite and >= 0"},
      {1.1, 1.2, 1.0, 1.1, nan, "volume", "volume nan must be finite and >= 0"},
  };
  for (const Case& c : cases) {
    auto b = Bar::Create(0, c.o, c.h, c.l, c.c, c.v);
    ASSERT_FALSE(b.ok()) << c.message;
    EXPECT_EQ(b.error().field(), c.field);
    EXPECT_EQ(b.error().message(), c.message);
  }
  EXPECT_EQ(Bar::Create(0, 1, 1, 1, 1, 0, -1).error().field(), "spread");
}

TEST(BarTest, BuilderRollsUp) {
  BarBuilder b;
  b.Start(60, 1.0, 1);
  b.Add(1.3, 1);
  b.Add(0.9, 1);
  b.Add(1.1, 1);
  auto bar = b.Build();
  ASSERT_OK(bar);
  EXPECT_EQ(bar->open(), 1.0);
  EXPECT_EQ(bar->high(), 1.3);
  EXPECT_EQ(bar->low(), 0.9);
  EXPECT_EQ(bar->close(), 1.1);
  EXPECT_EQ(bar->volume(), 4);
}

}  // namespace
}  // namespace sinyal::market
