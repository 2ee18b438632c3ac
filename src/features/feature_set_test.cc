#include "features/feature_set.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/testing/test_util.h"

namespace sinyal::features {
namespace {

TEST(FeatureSetTest, ParsesStrictJsonAndRoundTrips) {
  auto c = FeatureSetConfig::FromJson(R"({"name":"my-set","version":2,"features":[
      {"indicator":"rsi","params":{"period":10},"output":"value"},
      {"indicator":"macd","output":"hist"},
      {"indicator":"time","output":"hour"}]})");
  ASSERT_OK(c);
  EXPECT_EQ(c->name, "my-set");
  EXPECT_EQ(c->version, 2);
  ASSERT_EQ(c->features.size(), 3u);
  auto again = FeatureSetConfig::FromJson(c->ToJson());
  ASSERT_OK(again);
  EXPECT_EQ(again->ToJson(), c->ToJson());
  EXPECT_EQ(ConfigHash(*again), ConfigHash(*c));
  EXPECT_EQ(FeatureNames(*c)[1], "macd(fast=12,signal=9,slow=26).hist");
}

TEST(FeatureSetTest, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
    const char* message;
  } cases[] = {
      {R"({"name":"x","features":[{"indicator":"rsi","params":{"period":5000}}]})",
       "features[0].params.period", "5000 is out of bounds [2, 1000]"},
      {R"({"name":"x","features":[{"indicator":"rsi","params":{"period":14.5}}]})",
       "features[0].params.period", "14.5 must be a whole number"},
      {R"({"name":"x","features":[{"indicator":"rsi"},{"indicator":"rsi","params":{"lag":3}}]})",
       "features[1].params.lag", "unknown parameter of rsi (allowed: period)"},
      {R"({"name":"x","features":[{"indicator":"macd","output":"histogram"}]})",
       "features[0].output", "unknown output 'histogram' of macd (outputs: macd, signal, hist)"},
      {R"({"name":"x","features":[{"indicator":"foo"}]})", "features[0].indicator", nullptr},
      {R"({"name":"x","features":[{"indicator":"rsi","colour":"red"}]})", "features[0].colour",
       "unknown key (allowed: indicator, params, output)"},
      {R"({"name":"x","features":[],"extra":1})", "extra", nullptr},
      {R"({"name":"Bad Name","features":[{"indicator":"rsi"}]})", "name", nullptr},
      {R"({"name":"x","version":0,"features":[{"indicator":"rsi"}]})", "version", nullptr},
      {R"({"name":"x","features":[]})", "features", nullptr},
      {R"({"name":"x","features":[{"indicator":"rsi","params":{"period":"14"}}]})",
       "features[0].params.period", "must be a number"},
      {R"(not json)", "body", "feature set is not valid JSON"},
      {R"({"name":"x","features":[{"indicator":"bbands","params":{"nbdev":0}}]})",
       "features[0].params.nbdev", "0 is out of bounds [0.1, 10]"},
  };
  for (const Case& c : cases) {
    auto r = FeatureSetConfig::FromJson(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().field(), c.field) << c.json;
    if (c.message) {
      EXPECT_EQ(r.error().message(), c.message) << c.json;
    }
  }
}

TEST(FeatureSetTest, HashIgnoresLabelsAndExplicitDefaults) {
  FeatureSetConfig a{"tenant-a", 1, {{"rsi", {}, ""}, {"macd", {{"fast", 12}}, "hist"}}};
  FeatureSetConfig b{"tenant-b", 7, {{"rsi", {{"period", 14}}, "value"}, {"macd", {}, "hist"}}};
  EXPECT_EQ(ConfigHash(a), ConfigHash(b));
  EXPECT_EQ(ConfigHash(a).size(), 16u);
  FeatureSetConfig c = a;
  c.features[0].params["period"] = 15;
  EXPECT_NE(ConfigHash(a), ConfigHash(c));
  EXPECT_EQ(CanonicalString(a), "rsi(period=14).value;macd(fast=12,signal=9,slow=26).hist");
}

TEST(FeatureSetTest, DefaultSetIsValidAndScaleFree) {
  const FeatureSetConfig& core = DefaultFeatureSet();
  EXPECT_EQ(core.name, "core-v1");
  EXPECT_OK(Validate(core));
  auto a = FeatureComputer::Create(core);
  auto b = FeatureComputer::Create(core);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->size(), core.features.size());
  // The same path at 1.1 and at 110 (x100) gives the same features (up to rounding).
  std::mt19937_64 rng(3);
  std::normal_distribution<double> step(0, 0.001);
  double c = 1.1;
  std::vector<double> fa, fb;
  const int warm = a->WarmupBars();
  for (int i = 0; i < 400; ++i) {
    double o = c;
    c += step(rng);
    double h = std::max(o, c) + 0.0003, l = std::min(o, c) - 0.0002;
    a->Update(*market::Bar::Create(i * kNanosPerHour, o, h, l, c, 100 + i % 7), &fa);
    b->Update(
        *market::Bar::Create(i * kNanosPerHour, o * 100, h * 100, l * 100, c * 100, 100 + i % 7),
        &fb);
    if (i + 1 < warm) continue;
    for (size_t k = 0; k < fa.size(); ++k) {
      ASSERT_FALSE(std::isnan(fa[k])) << FeatureNames(core)[k] << " at bar " << i;
      EXPECT_NEAR(fa[k], fb[k], 1e-6 * std::max(1.0, std::abs(fa[k]))) << FeatureNames(core)[k];
    }
  }
}

}  // namespace
}  // namespace sinyal::features
