#include "market/merge.h"

#include <string>

#include "core/time.h"

namespace sinyal::market {
namespace {

Status CheckSorted(std::span<const Bar> bars, const char* what) {
  for (size_t i = 1; i < bars.size(); ++i) {
    if (bars[i].time() <= bars[i - 1].time()) {
      return Status::InvalidArgument(
          std::string(what) + " bars are not strictly ascending at index " + std::to_string(i) +
              " (" + FormatIso8601(bars[i].time()) + ")",
          what);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<OverlapPolicy> ParseOverlapPolicy(std::string_view name) {
  if (name == "reject") return OverlapPolicy::kReject;
  if (name == "keep" || name == "keep-existing") return OverlapPolicy::kKeepExisting;
  if (name == "overwrite") return OverlapPolicy::kOverwrite;
  return Status::InvalidArgument("unknown overlap policy '" + std::string(name.substr(0, 32)) +
                                     "' (use reject, keep or overwrite)",
                                 "on_conflict");
}

Result<MergePlan> PlanMerge(std::span<const Bar> existing, std::span<const Bar> incoming,
                            OverlapPolicy policy) {
  SINYAL_RETURN_IF_ERROR(CheckSorted(existing, "existing"));
  SINYAL_RETURN_IF_ERROR(CheckSorted(incoming, "incoming"));
  MergePlan plan;
  size_t i = 0;
  for (const Bar& nb : incoming) {
    while (i < existing.size() && existing[i].time() < nb.time()) ++i;
    if (i < existing.size() && existing[i].time() == nb.time()) {
      if (existing[i] == nb) {
        ++plan.identical;
      } else {
        plan.conflicts.push_back({existing[i], nb});
        if (policy == OverlapPolicy::kOverwrite) plan.to_replace.push_back(nb);
      }
    } else {
      plan.to_insert.push_back(nb);
    }
  }
  if (policy == OverlapPolicy::kReject && !plan.conflicts.empty()) {
    plan.status = Status::Conflict(std::to_string(plan.conflicts.size()) +
                                       " imported bar(s) differ from the stored ones, first at " +
                                       FormatIso8601(plan.conflicts.front().incoming.time()) +
                                       "; nothing written (choose keep-existing or overwrite)",
                                   "on_conflict");
    plan.to_insert.clear();
    plan.to_replace.clear();
  }
  return plan;
}

}  // namespace sinyal::market
