#include "market/merge.h"

#include <gtest/gtest.h>

#include "core/testing/test_util.h"

namespace sinyal::market {
namespace {

Bar B(int64_t hour, double close) {
  return *Bar::Create(hour * kNanosPerHour, 1.0, 2.0, 0.5, close, 10);
}

TEST(MergeTest, IdenticalOverlapIsSkippedNewBarsInserted) {
  std::vector<Bar> existing = {B(1, 1.1), B(2, 1.2), B(3, 1.3)};
  std::vector<Bar> incoming = {B(2, 1.2), B(3, 1.3), B(4, 1.4), B(5, 1.5)};
  auto plan = PlanMerge(existing, incoming);
  ASSERT_OK(plan);
  EXPECT_OK(plan->status);
  EXPECT_EQ(plan->identical, 2);
  ASSERT_EQ(plan->to_insert.size(), 2u);
  EXPECT_EQ(plan->to_insert[0], B(4, 1.4));
  EXPECT_TRUE(plan->conflicts.empty());
  EXPECT_TRUE(plan->to_replace.empty());
  // Re-importing the same file again writes nothing.
  auto again = PlanMerge(existing, existing);
  ASSERT_OK(again);
  EXPECT_TRUE(again->to_insert.empty());
  EXPECT_EQ(again->identical, 3);
}

TEST(MergeTest, ConflictsRejectByDefaultAndWriteNothing) {
  std::vector<Bar> existing = {B(1, 1.1), B(2, 1.2)};
  std::vector<Bar> incoming = {B(2, 1.25), B(3, 1.3)};
  auto plan = PlanMerge(existing, incoming);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->status.code(), StatusCode::kConflict);
  EXPECT_EQ(plan->status.message(),
            "1 imported bar(s) differ from the stored ones, first at 1970-01-01T02:00:00Z; "
            "nothing written (choose keep-existing or overwrite)");
  EXPECT_TRUE(plan->to_insert.empty());
  ASSERT_EQ(plan->conflicts.size(), 1u);
  EXPECT_EQ(plan->conflicts[0].existing, B(2, 1.2));
  EXPECT_EQ(plan->conflicts[0].incoming, B(2, 1.25));
}

TEST(MergeTest, KeepExistingAndOverwritePolicies) {
  std::vector<Bar> existing = {B(1, 1.1), B(2, 1.2)};
  std::vector<Bar> incoming = {B(2, 1.25), B(3, 1.3)};
  auto keep = PlanMerge(existing, incoming, OverlapPolicy::kKeepExisting);
  ASSERT_OK(keep);
  EXPECT_OK(keep->status);
  EXPECT_EQ(keep->to_insert.size(), 1u);
  EXPECT_TRUE(keep->to_replace.empty());
  EXPECT_EQ(keep->conflicts.size(), 1u);
  auto over = PlanMerge(existing, incoming, OverlapPolicy::kOverwrite);
  ASSERT_OK(over);
  ASSERT_EQ(over->to_replace.size(), 1u);
  EXPECT_EQ(over->to_replace[0], B(2, 1.25));
  EXPECT_EQ(over->conflicts.size(), 1u) << "an overwrite is reported, never silent";
  EXPECT_EQ(over->to_insert.size(), 1u);
}

TEST(MergeTest, RejectsUnsortedInput) {
  std::vector<Bar> bad = {B(2, 1.2), B(1, 1.1)};
  auto plan = PlanMerge({}, bad);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().field(), "incoming");
  EXPECT_EQ(*ParseOverlapPolicy("overwrite"), OverlapPolicy::kOverwrite);
  EXPECT_FALSE(ParseOverlapPolicy("yolo").ok());
}

}  // namespace
}  // namespace sinyal::market
