// Test fixture for backtest/'s database tests: a migrated database (both backends, DbTest) with
// a bar store on a manual clock.
#pragma once

#include <memory>

#include "core/clock.h"
#include "store/bar_store.h"
#include "store/testing/test_db.h"

namespace sinyal::backtest::testing {

class BarStoreTest : public store::testing::DbTest {
 protected:
  // DbTest::SetUp, then the bar store with the clock at `now`. Subclasses return when
  // HasFatalFailure() || IsSkipped() afterwards.
  void SetUpBars(UnixNanos now) {
    DbTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    clock_.Set(now);
    bars_ = std::make_unique<store::BarStore>(db(), clock_);
  }

  ManualClock clock_;
  std::unique_ptr<store::BarStore> bars_;
};

}  // namespace sinyal::backtest::testing
