// Graduated overage pricing (issue 11, deliverable 4): a plan's units beyond its monthly quota
// are priced by volume band, like tax brackets: each overage unit costs the price of the band it
// falls in, counted from the first overage unit of the period.
//
//   bands [{up_to: 10000, price 250}, {up_to: 50000, price 200}, {up_to: none, price 150}]
//   overage unit 1..10,000 -> Rp 250 each; 10,001..50,000 -> Rp 200; 50,001.. -> Rp 150
//
// Without bands every overage unit costs the plan's flat overage_price_idr. With bands,
// overage_price_idr equals the first band's price (the entry price shown to older clients).
// The one rule lives here: the meter prices each call with OverageCost (so the usage ledger's
// cost_idr and every invoice built from it apply the bands exactly, also for a call that
// crosses a band boundary), and /plans shows the bands.
// All amounts are whole rupiah (int64).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "core/status.h"

namespace sinyal::billing {

struct OverageBand {
  // Last overage unit of the period in this band (inclusive); nullopt = no upper bound.
  std::optional<int64_t> up_to;
  int64_t price_idr = 0;  // per unit in this band
  friend bool operator==(const OverageBand&, const OverageBand&) = default;
};

// OK, or InvalidArgument("overage_bands") when: more than 10 bands, an up_to that is not
// strictly increasing and >= 1, a bounded last band or an unbounded band before the last, a
// price outside [0, 1e12]. An empty list is valid (flat pricing).
[[nodiscard]] Status ValidateOverageBands(const std::vector<OverageBand>& bands);

// The IDR cost of `units` overage units that follow `overage_before` overage units already
// charged in the period. Flat (`flat_price_idr` per unit) when `bands` is empty.
// REQUIRES: overage_before >= 0, units >= 0, bands valid.
int64_t OverageCost(const std::vector<OverageBand>& bands, int64_t flat_price_idr,
                    int64_t overage_before, int64_t units);

// Price of overage unit number `unit` (1-based) of the period.
int64_t OverageUnitPrice(const std::vector<OverageBand>& bands, int64_t flat_price_idr,
                         int64_t unit);

// [{"up_to": 10000 | null, "price_idr": 250}, ...]
nlohmann::json OverageBandsToJson(const std::vector<OverageBand>& bands);
// Parses the JSON form (strict: an object per band with exactly "up_to" and "price_idr"), then
// validates. InvalidArgument("overage_bands") naming the problem.
[[nodiscard]] Result<std::vector<OverageBand>> OverageBandsFromJson(const nlohmann::json& j);

}  // namespace sinyal::billing
