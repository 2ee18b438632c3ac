#include "store/feature_set_store.h"

#include "core/testing/test_util.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::store {
namespace {

using testing::DbTest;

class FeatureSetStoreTest : public DbTest {
 protected:
  TenantId NewTenant(const std::string& name) { return testing::CreateTenant(db(), name); }
  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
};

TEST_P(FeatureSetStoreTest, VersionsArePerTenantAndImmutable) {
  FeatureSetStore sets(db(), clock_);
  TenantId a = NewTenant("a"), b = NewTenant("b");
  ASSERT_OK(sets.Create(a, "fast", 1, R"({"v":1})", "h1"));
  ASSERT_OK(sets.Create(a, "fast", 2, R"({"v":2})", "h2"));
  auto dup = sets.Create(a, "fast", 2, R"({"v":3})", "h3");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.error().field(), "version");
  ASSERT_OK(sets.Create(b, "fast", 1, R"({"b":1})", "hb"));  // same name, other tenant: fine

  auto latest = sets.Get(a, "fast", std::nullopt);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->config_json, R"({"v":2})");
  auto v1 = sets.Get(a, "fast", 1);
  ASSERT_OK(v1);
  EXPECT_EQ(v1->config_hash, "h1");
  EXPECT_EQ(v1->created_at, clock_.Now());
  auto missing = sets.Get(b, "fast", 2);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().field(), "set");

  auto la = sets.List(a);
  ASSERT_OK(la);
  EXPECT_EQ(la->size(), 2u);
  auto lb = sets.List(b);
  ASSERT_OK(lb);
  ASSERT_EQ(lb->size(), 1u);
  EXPECT_EQ((*lb)[0].config_json, R"({"b":1})");
}

INSTANTIATE_TEST_SUITE_P(Backends, FeatureSetStoreTest, SINYAL_DB_BACKENDS, testing::BackendName);

}  // namespace
}  // namespace sinyal::store
