#include "core/status.h"

#include "core/money.h"
#include "core/testing/test_util.h"

namespace sinyal {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd", "x");
  return x / 2;
}

Result<int> Quarter(int x) {
  SINYAL_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeMessageAndField) {
  Status s = Status::InvalidArgument("must be positive", "period");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "period");
  EXPECT_EQ(s.ToString(), "invalid_argument: must be positive (field: period)");
  EXPECT_EQ(s.WithContext("ema").message(), "ema: must be positive");
}

TEST(ResultTest, PropagatesErrors) {
  ASSERT_OK(Quarter(8));
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);  // 3 is odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "x");
  EXPECT_EQ(r.value_or(-1), -1);
}

TEST(MoneyTest, FormatsRupiah) {
  EXPECT_EQ(FormatIdr({1250000}), "Rp 1.250.000");
  EXPECT_EQ(FormatIdr({0}), "Rp 0");
  EXPECT_EQ(FormatIdr({-999}), "-Rp 999");
}

}  // namespace
}  // namespace sinyal
