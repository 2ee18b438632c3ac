#include "billing/overage.h"

#include <gtest/gtest.h>

#include "billing/plans.h"
#include "core/testing/test_util.h"

namespace sinyal::billing {
namespace {

const std::vector<OverageBand> kBands = {{10000, 250}, {50000, 200}, {std::nullopt, 150}};

TEST(OverageTest, FlatWithoutBands) {
  EXPECT_EQ(OverageCost({}, 250, 0, 4), 1000);
  EXPECT_EQ(OverageCost({}, 250, 123456, 1), 250);
  EXPECT_EQ(OverageCost({}, 250, 5, 0), 0);
}

TEST(OverageTest, GraduatedByBandLikeTaxBrackets) {
  // 60,000 overage units: 10,000 x 250 + 40,000 x 200 + 10,000 x 150.
  EXPECT_EQ(OverageCost(kBands, 250, 0, 60000), 2'500'000 + 8'000'000 + 1'500'000);
  // Unit by unit gives the same total (the meter prices call by call).
  int64_t sum = 0;
  for (int64_t u = 0; u < 60000; u += 7)
    sum += OverageCost(kBands, 250, u, std::min<int64_t>(7, 60000 - u));
  EXPECT_EQ(sum, 12'000'000);
  // A call crossing the first boundary: 3 units at 250, 2 at 200.
  EXPECT_EQ(OverageCost(kBands, 250, 9997, 5), 3 * 250 + 2 * 200);
  EXPECT_EQ(OverageUnitPrice(kBands, 250, 10000), 250);
  EXPECT_EQ(OverageUnitPrice(kBands, 250, 10001), 200);
  EXPECT_EQ(OverageUnitPrice(kBands, 250, 50001), 150);
  EXPECT_EQ(OverageUnitPrice(kBands, 250, 1'000'000'000), 150);
}

TEST(OverageTest, ValidationNamesTheProblem) {
  EXPECT_OK(ValidateOverageBands({}));
  EXPECT_OK(ValidateOverageBands(kBands));
  auto bad = [](std::vector<OverageBand> b) {
    Status s = ValidateOverageBands(b);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.field(), "overage_bands");
    return s.message();
  };
  EXPECT_NE(bad({{100, 5}}).find("last band"), std::string::npos);
  EXPECT_NE(bad({{std::nullopt, 5}, {std::nullopt, 4}}).find("only the last"), std::string::npos);
  EXPECT_NE(bad({{100, 5}, {100, 4}, {std::nullopt, 3}}).find("above the previous"),
            std::string::npos);
  EXPECT_NE(bad({{0, 5}, {std::nullopt, 3}}).find("above the previous"), std::string::npos);
  EXPECT_NE(bad({{std::nullopt, -1}}).find("price_idr"), std::string::npos);
}

TEST(OverageTest, JsonRoundTripIsStrict) {
  nlohmann::json j = OverageBandsToJson(kBands);
  EXPECT_EQ(
      j.dump(),
      R"([{"price_idr":250,"up_to":10000},{"price_idr":200,"up_to":50000},{"price_idr":150,"up_to":null}])");
  auto back = OverageBandsFromJson(j);
  ASSERT_OK(back);
  EXPECT_EQ(*back, kBands);
  EXPECT_FALSE(OverageBandsFromJson(nlohmann::json::parse(R"([{"up_to":null}])")).ok());
  EXPECT_FALSE(
      OverageBandsFromJson(nlohmann::json::parse(R"([{"up_to":null,"price_idr":1.5}])")).ok());
  EXPECT_FALSE(
      OverageBandsFromJson(nlohmann::json::parse(R"([{"up_to":"x","price_idr":1}])")).ok());
  EXPECT_FALSE(
      OverageBandsFromJson(nlohmann::json::parse(R"([{"up_to":null,"price_idr":1,"x":2}])")).ok());
  EXPECT_FALSE(OverageBandsFromJson(nlohmann::json::parse(R"({})")).ok());
}

TEST(OverageTest, PlanValidationRequiresTheEntryPriceToMatch) {
  Plan p;
  p.name = "pro";
  p.display_name = "Pro";
  p.overage_allowed = true;
  p.overage_price_idr = 250;
  p.overage_bands = kBands;
  EXPECT_OK(p.Validate());
  EXPECT_EQ(p.OverageCost(0, 10001), 10000 * 250 + 200);
  p.overage_price_idr = 300;
  EXPECT_EQ(p.Validate().field(), "overage_price_idr");
  p.overage_price_idr = 250;
  p.yearly_price_idr = -1;
  EXPECT_EQ(p.Validate().field(), "yearly_price_idr");
}

}  // namespace
}  // namespace sinyal::billing
