// PreparedPredictionBody (business predict's direct serialisation) against PredictionJson +
// json::dump: byte for byte, on every built-in plan, for abstained and directional signals,
// with strings that need escaping and numbers that are not finite.
#include "http/handlers/prediction_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/testing/test_util.h"
#include "store/testing/test_db.h"

namespace sinyal::http {
namespace {

using nlohmann::json;

signals::Signal MakeSignal(double p_up, bool odd_strings) {
  signals::SignalFields f;
  f.id = "0123456789abcdef";
  f.symbol = "EURUSD";
  f.timeframe = "H1";
  f.horizon = 3;
  f.bar_time = 1'700'000'000LL * kNanosPerSecond;
  f.p_up = p_up;
  f.confidence = std::max(p_up, 1 - p_up);
  f.uncertainty = 0.01;
  f.expected_return = -0.0;
  f.expected_abs_move = 1.25e-7;
  f.intervals = {{0.8, -0.0012345678901234, 0.0023}, {0.95, -0.004, 0.005}, {0.999, -1, 1e300}};
  f.regime.trend = signals::TrendState::kUp;
  f.regime.vol = signals::VolState::kHigh;
  f.regime_code = 5;
  f.regime_name = odd_strings ? "up \"high\"\tvol \xc3\xa9" : "up_high";
  f.drivers = {{"rsi_14", 71.5, 0.25},
               {odd_strings ? "back\\slash\x01" : "atr", std::nan(""), -0.125}};
  f.model_version = "t1/EURUSD/H1/v2";
  return signals::Signal::FromFields(std::move(f));
}

class PredictionJsonTest : public store::testing::DbTest {};

TEST_P(PredictionJsonTest, PreparedBodyIsTheJsonDumpByteForByte) {
  ManualClock clock(1'700'000'000LL * kNanosPerSecond);
  billing::PlanStore plans(db(), clock);
  billing::Subscriptions subscriptions(db(), plans, clock);
  billing::Entitlements entitlements(plans, subscriptions);
  auto list = plans.List();
  ASSERT_OK(list);
  ASSERT_GE(list->size(), 3u);
  int compared = 0;
  for (const billing::Plan& plan : *list) {
    for (double p_up : {0.9, 0.52, 0.1}) {
      for (bool odd : {false, true}) {
        for (double threshold : {0.5, 0.6, std::numeric_limits<double>::quiet_NaN()}) {
          const signals::Signal sig = MakeSignal(p_up, odd);
          json j = PredictionJson(entitlements, plan, sig, threshold);
          j["data_delay_seconds"] = plan.data_delay_seconds;
          j["cost_credits"] = 1;
          j["usage_cost"] = 250;
          j["remaining_quota"] = plan.unlimited() ? json(nullptr) : json(41);
          billing::Meter::PreparedBody b =
              PreparedPredictionBody(entitlements, plan, sig, threshold, plan.data_delay_seconds);
          ASSERT_LT(b.cost_credits_at, b.remaining_quota_at);
          ASSERT_LT(b.remaining_quota_at, b.usage_cost_at);
          std::string text = b.text;  // filled as Meter does (back to front keeps the offsets)
          text.insert(b.usage_cost_at, "250");
          text.insert(b.remaining_quota_at, plan.unlimited() ? "null" : "41");
          text.insert(b.cost_credits_at, "1");
          EXPECT_EQ(text, j.dump()) << plan.name << " p_up=" << p_up << " odd=" << odd;
          ++compared;
        }
      }
    }
  }
  EXPECT_GE(compared, 54);
}

INSTANTIATE_TEST_SUITE_P(Backends, PredictionJsonTest,
                         ::testing::Values(store::testing::Backend::kSqlite),
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::http
