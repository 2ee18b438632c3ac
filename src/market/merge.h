// Re-import merge rule: a pure function the bar store calls before writing.
//
// Given the bars already stored for a series and the bars of a new import of the same series
// (both ascending by time, unique), PlanMerge decides what to write:
//  - a new bar at a time not stored yet            -> to_insert
//  - a new bar identical to the stored one         -> skipped (counted in identical), never a duplicate
//  - a new bar that differs from the stored one    -> a conflict:
//      OverlapPolicy::kReject (default): reported in `conflicts`, and NOTHING is to be written
//          (to_insert and to_replace are empty) so a file that disagrees with the store changes
//          nothing until the operator decides;
//      kKeepExisting: reported in `conflicts`; the stored bar stays; the other new bars are
//          inserted;
//      kOverwrite: the new bar goes to `to_replace` (and is also listed in `conflicts`, so an
//          overwrite is never silent).
// Only the overlap of the time ranges is compared, so callers may pass just the stored bars
// within [incoming.front().time, incoming.back().time].
//
// Thread safety: pure function.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "market/bar.h"

namespace sinyal::market {

enum class OverlapPolicy { kReject, kKeepExisting, kOverwrite };
[[nodiscard]] Result<OverlapPolicy> ParseOverlapPolicy(
    std::string_view name);  // reject|keep|overwrite

struct BarConflict {
  Bar existing;
  Bar incoming;
};

struct MergePlan {
  std::vector<Bar> to_insert;   // ascending
  std::vector<Bar> to_replace;  // ascending; only with kOverwrite
  std::vector<BarConflict> conflicts;
  int64_t identical = 0;  // incoming bars equal to stored ones (skipped)
  // OK, or Conflict ("3 bars differ from the stored ones, first at 2020-01-02T00:00:00Z; ...")
  // when the policy is kReject and there are conflicts.
  Status status;
};

// REQUIRES nothing: unsorted or duplicated input gives InvalidArgument naming the index.
[[nodiscard]] Result<MergePlan> PlanMerge(std::span<const Bar> existing,
                                          std::span<const Bar> incoming,
                                          OverlapPolicy policy = OverlapPolicy::kReject);

}  // namespace sinyal::market
