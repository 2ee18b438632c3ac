// The features (entitlements) plans sell: the ONE list.
//
// A plan may list only these names (Plan::Validate), and every name here is gated in code through
// billing::Gate (entitlements.h) where it is served; http/entitlements_test.cc checks each name,
// behaviour by behaviour, with a plan that has it and one that lacks it, and fails for a name it
// does not know. So a plan can never list (sell) a feature nobody built.
//
// To add a feature: one SINYAL_FEATURE line below (constant, stable name, what it sells), a
// Gate(plan, kFeatX) where it is served, and its row in http/entitlements_test.cc. Then add it to
// the plans that sell it (a migration for the seeded plans, or an operator's PATCH).
//
// Thread safety: constants and a pure function.
#pragma once

#include <string_view>
#include <vector>

namespace sinyal::billing {

// SINYAL_FEATURE(constant, "name", "what it adds"): the names are stable API strings (plans,
// 403 problems, the "gated" lists of answers).
#define SINYAL_BILLING_FEATURES(SINYAL_FEATURE)                                                    \
  SINYAL_FEATURE(kFeatConfidence, "confidence", "calibrated confidence, p_up and abstain reasons") \
  SINYAL_FEATURE(kFeatIntervals, "intervals", "conformal intervals and the expected move")         \
  SINYAL_FEATURE(kFeatRegime, "regime", "market regime, drivers and the model version")            \
  SINYAL_FEATURE(kFeatAllTimeframes, "all_timeframes",                                             \
                 "every timeframe (else the plan's timeframes)")                                   \
  SINYAL_FEATURE(kFeatRealtime, "realtime",                                                        \
                 "data of the latest closed bar (else data_delay_seconds)")                        \
  SINYAL_FEATURE(kFeatCorrelations, "correlations", "cross-asset correlations and lead-lag")       \
  SINYAL_FEATURE(kFeatBatch, "batch", "POST /api/v1/business/predict/batch")                       \
  SINYAL_FEATURE(kFeatStream, "stream", "the WebSocket signal stream")                             \
  SINYAL_FEATURE(kFeatTelegram, "telegram", "signal alerts in the user's Telegram chat")           \
  SINYAL_FEATURE(kFeatBacktests, "backtests", "backtests of the signals (POST /api/v1/backtests)") \
  SINYAL_FEATURE(kFeatPaperTrading, "paper_trading",                                               \
                 "paper trading accounts (POST /api/v1/paper-accounts)")

#define SINYAL_DECLARE_FEATURE(constant, name, what) \
  inline constexpr std::string_view constant = name;
SINYAL_BILLING_FEATURES(SINYAL_DECLARE_FEATURE)
#undef SINYAL_DECLARE_FEATURE

struct FeatureInfo {
  std::string_view name;
  std::string_view what;  // one line: what a plan with it gets
};

// Every feature, in the order of the list above.
const std::vector<FeatureInfo>& AllFeatures();
// True for a name in the list.
bool IsFeature(std::string_view name);

}  // namespace sinyal::billing
