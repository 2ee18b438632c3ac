#include "models/registry.h"

#include <fstream>

#include "core/testing/test_util.h"
#include "models/testing/synthetic.h"
#include "models/trainer.h"

namespace sinyal::models {
namespace {

namespace fs = std::filesystem;
using testing::TrainSmallModel;

const TenantId kA(1), kB(2);

ModelRecord Meta(const Dataset& ds) {
  ModelRecord r;
  r.symbol = "EURUSD";
  r.timeframe = "H1";
  r.data_from = ds.rows.front().ts;
  r.data_to = ds.rows.back().ts;
  r.params = {{"note", "test"}};
  r.metrics = {{"accuracy", 0.5}};
  r.code_version = "test-1234";
  return r;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = FileModelRegistry::Open(dir_.path() / "models", clock_);
    ASSERT_OK(r);
    reg_ = std::move(r).value();
  }
  sinyal::testing::TempDir dir_;
  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<FileModelRegistry> reg_;
};

TEST_F(RegistryTest, RoundTripIsBitIdenticalWithEqualPredictions) {
  auto m = TrainSmallModel(1);
  ASSERT_OK(m.ensemble);
  // XGBoost itself: save -> load -> save gives the same bytes.
  auto resaved = m.ensemble->ResaveMembers("ubj");
  ASSERT_OK(resaved);
  EXPECT_EQ(*resaved, m.ensemble->member_ubj());

  auto rec = reg_->Register(kA, *m.ensemble, Meta(m.ds));
  ASSERT_OK(rec);
  EXPECT_EQ(rec->version, 1);
  EXPECT_EQ(rec->content_hash.size(), 64u);
  EXPECT_EQ(rec->created_at, clock_.Now());
  EXPECT_EQ(rec->schema.feature_set, "basic");
  EXPECT_EQ(rec->schema.feature_set_version, 1);
  EXPECT_EQ(rec->code_version, "test-1234");
  EXPECT_FALSE(rec->xgboost_version.empty());

  auto loaded = reg_->Load(kA, {"EURUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(loaded);
  auto again = loaded->ResaveMembers("ubj");
  ASSERT_OK(again);
  EXPECT_EQ(*again, m.ensemble->member_ubj());  // save -> load -> save: equal bytes
  // Registering the loaded model again gives the same content hash.
  auto rec2 = reg_->Register(kA, *loaded, Meta(m.ds));
  ASSERT_OK(rec2);
  EXPECT_EQ(rec2->version, 2);
  EXPECT_EQ(rec2->content_hash, rec->content_hash);
  // Equal predictions, exactly, on every test row.
  for (size_t i : m.test) {
    const Prediction a = m.ensemble->Predict(m.ds.Row(i));
    const Prediction b = loaded->Predict(m.ds.Row(i));
    ASSERT_EQ(a.proba, b.proba);
    ASSERT_EQ(a.uncertainty, b.uncertainty);
  }
  auto back = reg_->GetRecord(kA, {"EURUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(back);
  EXPECT_EQ(back->ToJson(), rec->ToJson());
}

TEST_F(RegistryTest, ActivateAndRollback) {
  auto m = TrainSmallModel(2);
  ASSERT_OK(m.ensemble);
  EXPECT_TRUE(reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1).error().IsNotFound());
  ASSERT_OK(reg_->Register(kA, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Register(kA, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Register(kA, *m.ensemble, Meta(m.ds)));
  EXPECT_EQ(reg_->List(kA, {"EURUSD", market::Timeframe::kH1})->size(), 3u);
  ASSERT_OK(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, 1));
  ASSERT_OK(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, 3));
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), 3);
  ASSERT_OK(reg_->Rollback(kA, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  Status s = reg_->Rollback(kA, {"EURUSD", market::Timeframe::kH1}, 1);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  EXPECT_TRUE(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, 9).IsNotFound());
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), 1);
}

TEST_F(RegistryTest, CorruptedModelFileIsAClearErrorAndActiveUnchanged) {
  auto m = TrainSmallModel(3);
  ASSERT_OK(m.ensemble);
  ASSERT_OK(reg_->Register(kA, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Register(kA, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, 1));
  // Flip one byte in the middle of member 1 of version 2.
  const fs::path f =
      reg_->TEST_VersionDir(kA, {"EURUSD", market::Timeframe::kH1}, 2) / "member_1.ubj";
  {
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(fs::file_size(f) / 2));
    char c;
    io.read(&c, 1);
    io.seekp(static_cast<std::streamoff>(fs::file_size(f) / 2));
    c = static_cast<char>(c ^ 0x5a);
    io.write(&c, 1);
  }
  auto l = reg_->Load(kA, {"EURUSD", market::Timeframe::kH1}, 2);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code(), StatusCode::kDataLoss);
  EXPECT_NE(l.error().message().find("member_1.ubj"), std::string::npos) << l.error().ToString();
  EXPECT_NE(l.error().message().find("corrupted"), std::string::npos);
  Status s = reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, 2);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  // Garbage in place of a model whose hash is also rewritten is caught by XGBoost's parser.
  ASSERT_OK(reg_->Register(kA, *m.ensemble, Meta(m.ds)));
  const fs::path v3 = reg_->TEST_VersionDir(kA, {"EURUSD", market::Timeframe::kH1}, 3);
  { std::ofstream(v3 / "member_0.ubj", std::ios::trunc) << "not a model"; }
  EXPECT_EQ(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, 3).code(),
            StatusCode::kDataLoss);
  // A deleted file too.
  fs::remove(v3 / "calibration.json");
  auto l3 = reg_->Load(kA, {"EURUSD", market::Timeframe::kH1}, 3);
  ASSERT_FALSE(l3.ok());
  EXPECT_EQ(l3.error().code(), StatusCode::kDataLoss);
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  // The active model still loads and predicts.
  bool platform = true;
  auto active = ResolveActive(*reg_, kA, {"EURUSD", market::Timeframe::kH1}, 1, &platform);
  ASSERT_OK(active);
  EXPECT_FALSE(platform);
}

TEST_F(RegistryTest, TenantsCannotSeeOrUseEachOthersModels) {
  auto m = TrainSmallModel(4);
  ASSERT_OK(m.ensemble);
  auto rb = reg_->Register(kB, *m.ensemble, Meta(m.ds));
  ASSERT_OK(rb);
  ASSERT_OK(reg_->Activate(kB, {"EURUSD", market::Timeframe::kH1}, rb->version));
  // Tenant A sees nothing of B's.
  EXPECT_TRUE(reg_->List(kA, {"EURUSD", market::Timeframe::kH1})->empty());
  EXPECT_TRUE(reg_->Load(kA, {"EURUSD", market::Timeframe::kH1}, rb->version).error().IsNotFound());
  EXPECT_TRUE(
      reg_->GetRecord(kA, {"EURUSD", market::Timeframe::kH1}, rb->version).error().IsNotFound());
  EXPECT_TRUE(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, rb->version).IsNotFound());
  EXPECT_TRUE(reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1).error().IsNotFound());
  EXPECT_TRUE(ResolveActive(*reg_, kA, {"EURUSD", market::Timeframe::kH1}, 1).error().IsNotFound());
  // B's activation is untouched by A's attempts.
  EXPECT_EQ(*reg_->ActiveVersion(kB, {"EURUSD", market::Timeframe::kH1}, 1), rb->version);
  // A platform default serves A, but it is the platform's model, not B's.
  auto rp = reg_->Register(kPlatformTenant, *m.ensemble, Meta(m.ds));
  ASSERT_OK(rp);
  ASSERT_OK(reg_->Activate(kPlatformTenant, {"EURUSD", market::Timeframe::kH1}, rp->version));
  bool platform = false;
  ASSERT_OK(ResolveActive(*reg_, kA, {"EURUSD", market::Timeframe::kH1}, 1, &platform));
  EXPECT_TRUE(platform);
  // Path tricks are rejected before touching the disk (a typed timeframe can't carry one).
  EXPECT_EQ(reg_->Load(kA, {"../t2/EURUSD", market::Timeframe::kH1}, 1).error().field(), "symbol");
  EXPECT_EQ(reg_->Load(TenantId(-2), {"EURUSD", market::Timeframe::kH1}, 1).error().field(),
            "tenant");
}

// TrainModel -> Register -> Activate: the path of `sinyal train`; bad input changes nothing.
TEST_F(RegistryTest, TrainModelRegistersAndBadInputChangesNothing) {
  auto m = TrainSmallModel(5);
  m.ds.symbol = "EURUSD";
  TrainConfig cfg = DefaultTrainConfig("EURUSD");
  for (auto& mp : cfg.members) mp.trees = 20;
  cfg.min_train_rows = 500;
  cfg.nthread = 1;
  std::vector<std::string> stages;
  auto out = TrainModel(m.ds, cfg, PlanBounds{}, "abc123", clock_,
                        [&](double, std::string_view s) { stages.emplace_back(s); });
  ASSERT_OK(out);
  EXPECT_EQ(stages.back(), "done");
  EXPECT_NE(std::find(stages.begin(), stages.end(), "member 4/4"), stages.end());
  EXPECT_EQ(out->record.schema.feature_set, "basic");
  EXPECT_LT(out->record.data_from, out->record.data_to);
  auto rec = reg_->Register(kA, out->ensemble, out->record);
  ASSERT_OK(rec);
  ASSERT_OK(reg_->Activate(kA, {"EURUSD", market::Timeframe::kH1}, rec->version));
  EXPECT_EQ(rec->code_version, "abc123");
  EXPECT_TRUE(rec->metrics.contains("calibration_set"));

  // Hyperparameters out of bounds, a symbol not configured, too little data: clear errors.
  TrainConfig bad = cfg;
  bad.members[2].max_depth = 99;
  auto e1 = TrainModel(m.ds, bad, PlanBounds{}, "x", clock_);
  ASSERT_FALSE(e1.ok());
  EXPECT_EQ(e1.error().field(), "members[2].max_depth");
  TrainConfig other = cfg;
  other.symbols = {"GBPUSD"};
  auto e2 = TrainModel(m.ds, other, PlanBounds{}, "x", clock_);
  ASSERT_FALSE(e2.ok());
  EXPECT_EQ(e2.error().field(), "symbol");
  TrainConfig greedy = cfg;
  greedy.min_train_rows = 100000;
  auto e3 = TrainModel(m.ds, greedy, PlanBounds{}, "x", clock_);
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.error().message().find("too little data"), std::string::npos);
  EXPECT_EQ(*reg_->ActiveVersion(kA, {"EURUSD", market::Timeframe::kH1}, 1), rec->version);
  EXPECT_EQ(reg_->List(kA, {"EURUSD", market::Timeframe::kH1})->size(), 1u);
}

}  // namespace
}  // namespace sinyal::models
