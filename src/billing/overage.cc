#include "billing/overage.h"

#include <algorithm>
#include <string>

namespace sinyal::billing {

namespace {
constexpr int64_t kMaxMoney = 1'000'000'000'000;
constexpr size_t kMaxBands = 10;
}  // namespace

Status ValidateOverageBands(const std::vector<OverageBand>& bands) {
  if (bands.size() > kMaxBands) {
    return Status::InvalidArgument("at most 10 overage bands", "overage_bands");
  }
  int64_t last = 0;
  for (size_t i = 0; i < bands.size(); ++i) {
    const OverageBand& b = bands[i];
    const std::string where = "band " + std::to_string(i + 1);
    if (b.price_idr < 0 || b.price_idr > kMaxMoney) {
      return Status::InvalidArgument(where + ": price_idr must be in [0, 1e12]", "overage_bands");
    }
    const bool is_last = i + 1 == bands.size();
    if (!b.up_to) {
      if (!is_last) {
        return Status::InvalidArgument(where + ": only the last band may have no up_to",
                                       "overage_bands");
      }
      continue;
    }
    if (is_last) {
      return Status::InvalidArgument(where + ": the last band must have up_to null (no bound)",
                                     "overage_bands");
    }
    if (*b.up_to <= last) {
      return Status::InvalidArgument(
          where + ": up_to must be above the previous band's (" + std::to_string(last) + ")",
          "overage_bands");
    }
    last = *b.up_to;
  }
  return Status::Ok();
}

int64_t OverageCost(const std::vector<OverageBand>& bands, int64_t flat_price_idr,
                    int64_t overage_before, int64_t units) {
  if (units <= 0) return 0;
  if (bands.empty()) return units * flat_price_idr;
  const int64_t from = overage_before, to = overage_before + units;  // units (from, to]
  int64_t cost = 0, lo = 0;
  for (const OverageBand& b : bands) {
    const int64_t hi = b.up_to.value_or(INT64_MAX);
    const int64_t a = std::max(from, lo), z = std::min(to, hi);
    if (z > a) cost += (z - a) * b.price_idr;
    if (hi >= to) break;
    lo = hi;
  }
  return cost;
}

int64_t OverageUnitPrice(const std::vector<OverageBand>& bands, int64_t flat_price_idr,
                         int64_t unit) {
  return OverageCost(bands, flat_price_idr, unit - 1, 1);
}

nlohmann::json OverageBandsToJson(const std::vector<OverageBand>& bands) {
  nlohmann::json out = nlohmann::json::array();
  for (const OverageBand& b : bands) {
    out.push_back({{"up_to", b.up_to ? nlohmann::json(*b.up_to) : nlohmann::json(nullptr)},
                   {"price_idr", b.price_idr}});
  }
  return out;
}

Result<std::vector<OverageBand>> OverageBandsFromJson(const nlohmann::json& j) {
  if (!j.is_array()) {
    return Status::InvalidArgument("overage_bands must be an array", "overage_bands");
  }
  std::vector<OverageBand> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& e = j[i];
    const std::string where = "band " + std::to_string(i + 1);
    if (!e.is_object() || e.size() != 2 || !e.contains("up_to") || !e.contains("price_idr")) {
      return Status::InvalidArgument(
          where + ": must be an object with exactly up_to (integer or null) and price_idr",
          "overage_bands");
    }
    OverageBand b;
    const nlohmann::json& up = e["up_to"];
    if (up.is_number_integer()) {
      b.up_to = up.get<int64_t>();
    } else if (!up.is_null()) {
      return Status::InvalidArgument(where + ": up_to must be an integer or null", "overage_bands");
    }
    if (!e["price_idr"].is_number_integer()) {
      return Status::InvalidArgument(where + ": price_idr must be an integer (whole rupiah)",
                                     "overage_bands");
    }
    b.price_idr = e["price_idr"].get<int64_t>();
    out.push_back(b);
  }
  SINYAL_RETURN_IF_ERROR(ValidateOverageBands(out));
  return out;
}

}  // namespace sinyal::billing
