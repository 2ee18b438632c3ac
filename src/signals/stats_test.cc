#include "signals/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/testing/test_util.h"
#include "signals/hmm.h"

namespace sinyal::signals {
namespace {

TEST(StatsTest, PearsonAndSpearman) {
  std::vector<double> x = {1, 2, 3, 4, 5};
  std::vector<double> y = {2, 4, 6, 8, 10};
  EXPECT_NEAR(Pearson(x, y), 1.0, 1e-12);
  std::vector<double> z = {1, 8, 27, 64, 125};  // monotone, not linear
  EXPECT_LT(Pearson(x, z), 0.99);
  EXPECT_NEAR(Spearman(x, z), 1.0, 1e-12);
  std::vector<double> c = {3, 3, 3, 3, 3};
  EXPECT_TRUE(std::isnan(Pearson(x, c)));
  // Ties get average ranks.
  auto r = AverageRanks(std::vector<double>{10, 20, 20, 30});
  EXPECT_EQ(r, (std::vector<double>{1, 2.5, 2.5, 4}));
}

TEST(StatsTest, KruskalWallisMatchesR) {
  // R: kruskal.test(list(x, y, z)) from ?kruskal.test (Hollander & Wolfe):
  // Kruskal-Wallis chi-squared = 0.77143, df = 2, p-value = 0.68.
  std::vector<std::vector<double>> g = {
      {2.9, 3.0, 2.5, 2.6, 3.2}, {3.8, 2.7, 4.0, 2.4}, {2.8, 3.4, 3.7, 2.2, 2.0}};
  auto kw = KruskalWallis(g);
  ASSERT_OK(kw);
  EXPECT_NEAR(kw->h, 0.77143, 1e-5);
  EXPECT_EQ(kw->df, 2);
  EXPECT_NEAR(kw->p_value, 0.68, 0.005);
  EXPECT_EQ(kw->n, 14u);
}

TEST(StatsTest, KruskalWallisErrors) {
  auto one = KruskalWallis({{1, 2, 3}, {}});
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().field(), "groups");
  auto nan = KruskalWallis({{1, std::nan("")}, {2, 3}});
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.error().message().find("NaN"), std::string::npos);
}

TEST(StatsTest, DistributionFunctions) {
  EXPECT_NEAR(ChiSquaredSurvival(3.841458820694124, 1), 0.05, 1e-9);
  EXPECT_NEAR(NormalTwoSidedP(1.959963984540054), 0.05, 1e-9);
  EXPECT_NEAR(StudentTUpperP(0, 10), 0.5, 1e-12);
  EXPECT_NEAR(StudentTUpperP(1.812461122811676, 10), 0.05, 1e-9);  // qt(0.95, 10)
}

TEST(StatsTest, PairedTTest) {
  std::vector<double> d = {0.1, 0.2, 0.15, 0.05, 0.12, 0.18};
  auto r = PairedTTest(d);
  ASSERT_OK(r);
  EXPECT_GT(r->t, 5);
  EXPECT_LT(r->p_greater, 0.001);
  auto bad = PairedTTest(std::vector<double>{1.0});
  EXPECT_FALSE(bad.ok());
  auto inf = PairedTTest(std::vector<double>{1.0, INFINITY});
  ASSERT_FALSE(inf.ok());
  EXPECT_EQ(inf.error().field(), "differences");
}

TEST(StatsTest, AssociationIdenticalPermutedAndIndependent) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> u(0, 2);
  std::vector<int> a(3000), perm(3000), indep(3000);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = u(rng);
    perm[i] = (a[i] + 1) % 3;
    indep[i] = u(rng);
  }
  auto same = Associate(MakeContingency(a, 3, a, 3).value());
  EXPECT_NEAR(same.adjusted_rand, 1.0, 1e-12);
  EXPECT_NEAR(same.cramers_v, 1.0, 1e-12);
  EXPECT_NEAR(same.agreement, 1.0, 1e-12);
  auto p = Associate(MakeContingency(a, 3, perm, 3).value());
  EXPECT_NEAR(p.adjusted_rand, 1.0, 1e-12);  // ARI ignores label names
  EXPECT_NEAR(p.agreement, 0.0, 1e-12);
  auto ind = Associate(MakeContingency(a, 3, indep, 3).value());
  EXPECT_LT(std::fabs(ind.adjusted_rand), 0.01);
  EXPECT_LT(ind.cramers_v, 0.06);
  EXPECT_GT(ind.p_value, 0.001);
  EXPECT_FALSE(MakeContingency(a, 2, a, 3).ok());  // label 2 out of range for ka = 2
}

TEST(HmmTest, RecoversTwoVolatilityStates) {
  // Two persistent states with different variance; the HMM must find them.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n01(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> obs;
  std::vector<int> truth;
  int s = 0;
  for (int t = 0; t < 4000; ++t) {
    if (u(rng) < 0.02) s = 1 - s;
    truth.push_back(s);
    obs.push_back(n01(rng) * (s == 0 ? 0.5 : 2.0));
    obs.push_back(s == 0 ? -1 + 0.3 * n01(rng) : 1 + 0.3 * n01(rng));  // a log-vol-like dim
  }
  GaussianHmmOptions o;
  o.states = 2;
  o.sort_dim = 1;
  auto h = FitGaussianHmm(obs, 2, o);
  ASSERT_OK(h);
  EXPECT_LT(h->mean[1], h->mean[3]);  // sorted by dim 1
  auto path = Viterbi(*h, obs);
  int agree = 0;
  for (size_t i = 0; i < path.size(); ++i) agree += path[i] == truth[i];
  EXPECT_GT(agree, 3900);
  EXPECT_GT(std::exp(h->log_transition[0]), 0.95);  // persistent
}

TEST(HmmTest, BadInput) {
  std::vector<double> obs(100, 1.0);
  obs[37] = std::nan("");
  auto r = FitGaussianHmm(obs, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "obs");
  EXPECT_NE(r.error().message().find("row 37"), std::string::npos);
  GaussianHmmOptions o;
  o.states = 1;
  EXPECT_EQ(FitGaussianHmm(std::vector<double>(100, 1.0), 1, o).error().field(), "options.states");
}

}  // namespace
}  // namespace sinyal::signals
