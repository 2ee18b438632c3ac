// DbModelRegistry on SQLite and PostgreSQL: bit-identical reload with equal predictions,
// content hash equal to FileModelRegistry's, activate/rollback with audit, corrupted bytes ->
// DataLoss naming the version with the active model unchanged, tenant isolation (also under
// PostgreSQL RLS without the application's filter), platform defaults via ResolveActive.
#include "models/db_registry.h"

#include <nlohmann/json.hpp>

#include "core/testing/test_util.h"
#include "models/testing/synthetic.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::models {
namespace {

using testing::TrainSmallModel;

using ::sinyal::store::testing::CreateTenant;

ModelRecord Meta(const Dataset& ds, const std::string& symbol = "EURUSD") {
  ModelRecord r;
  r.symbol = symbol;
  r.timeframe = "H1";
  r.data_from = ds.rows.front().ts;
  r.data_to = ds.rows.back().ts;
  r.params = {{"note", "test"}};
  r.metrics = {{"accuracy", 0.5}};
  r.code_version = "test-1234";
  return r;
}

// One small model shared by the tests (training is the slow part).
const testing::SmallModel& Model() {
  static const testing::SmallModel* m = new testing::SmallModel(TrainSmallModel(7));
  return *m;
}

class DbRegistryTest : public store::testing::TwoTenantDbTest {
 protected:
  void SetUp() override {
    TwoTenantDbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    reg_ = std::make_unique<DbModelRegistry>(db(), clock_);
  }
  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<DbModelRegistry> reg_;
};

TEST_P(DbRegistryTest, SaveLoadSaveIsBitIdenticalWithEqualPredictions) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  auto rec = reg_->Register(a_, *m.ensemble, Meta(m.ds));
  ASSERT_OK(rec);
  EXPECT_EQ(rec->version, 1);
  EXPECT_EQ(rec->tenant, a_);
  EXPECT_EQ(rec->created_at, clock_.Now());
  EXPECT_EQ(rec->file_hashes.size(), m.ensemble->num_members() + 3);

  // The stored bytes are exactly the members' UBJ.
  auto files = reg_->StoredFiles(a_, {"EURUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(files);
  for (size_t i = 0; i < m.ensemble->num_members(); ++i) {
    EXPECT_EQ((*files)[i], m.ensemble->member_ubj()[i]) << "member " << i;
  }
  auto loaded = reg_->Load(a_, {"EURUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(loaded);
  auto resaved = loaded->ResaveMembers("ubj");
  ASSERT_OK(resaved);
  EXPECT_EQ(*resaved, m.ensemble->member_ubj());  // save -> load -> save: equal bytes
  auto rec2 = reg_->Register(a_, *loaded, Meta(m.ds));
  ASSERT_OK(rec2);
  EXPECT_EQ(rec2->version, 2);
  EXPECT_EQ(rec2->content_hash, rec->content_hash);
  auto files2 = reg_->StoredFiles(a_, {"EURUSD", market::Timeframe::kH1}, 2);
  ASSERT_OK(files2);
  EXPECT_EQ(*files2, *files);
  for (size_t i : m.test) {
    const Prediction p = m.ensemble->Predict(m.ds.Row(i));
    const Prediction q = loaded->Predict(m.ds.Row(i));
    ASSERT_EQ(p.proba, q.proba);
    ASSERT_EQ(p.uncertainty, q.uncertainty);
  }
  auto back = reg_->GetRecord(a_, {"EURUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(back);
  EXPECT_EQ(back->ToJson(), rec->ToJson());
  auto list = reg_->List(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, 1);
  EXPECT_EQ((*list)[1].version, 2);

  // The same model in the file registry has the same content hash.
  sinyal::testing::TempDir dir;
  auto file_reg = FileModelRegistry::Open(dir.path() / "m", clock_);
  ASSERT_OK(file_reg);
  auto frec = (*file_reg)->Register(a_, *m.ensemble, Meta(m.ds));
  ASSERT_OK(frec);
  EXPECT_EQ(frec->content_hash, rec->content_hash);
  EXPECT_EQ(frec->file_hashes, rec->file_hashes);
}

// Horizons are a product: one active version per (owner, symbol, timeframe, horizon), each
// activated, rolled back and audited on its own line (migration 50).
TEST_P(DbRegistryTest, OneActiveVersionPerHorizon) {
  const auto& h1 = Model();
  ASSERT_OK(h1.ensemble);
  static const testing::SmallModel* h24 = new testing::SmallModel(TrainSmallModel(8, 3000, 24));
  ASSERT_OK(h24->ensemble);
  ASSERT_EQ(h24->ensemble->schema().horizon, 24);
  ASSERT_OK(reg_->Register(a_, *h1.ensemble, Meta(h1.ds)));      // v1, horizon 1
  ASSERT_OK(reg_->Register(a_, *h24->ensemble, Meta(h24->ds)));  // v2, horizon 24
  ASSERT_OK(reg_->Register(a_, *h1.ensemble, Meta(h1.ds)));      // v3, horizon 1
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 1, "user:1"));
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 2, "user:1"));
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 24), 2);
  EXPECT_EQ(reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 4).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(*reg_->ActiveHorizons(a_, {"EURUSD", market::Timeframe::kH1}),
            (std::vector<int>{1, 24}));
  EXPECT_TRUE(reg_->ActiveHorizons(b_, {"EURUSD", market::Timeframe::kH1})->empty())
      << "another tenant's lines are not seen";

  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 3,
                             "user:1"));  // replaces horizon 1 only
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 3);
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 24), 2);
  EXPECT_EQ(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 24).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_OK(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 24), 2);

  auto audit = reg_->Audit(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(audit);
  ASSERT_EQ(audit->size(), 4u);
  EXPECT_EQ((*audit)[1].to_version, 2);
  EXPECT_EQ((*audit)[1].horizon, 24);
  EXPECT_FALSE((*audit)[1].from_version.has_value()) << "horizon 24's first activation";
  EXPECT_EQ((*audit)[3].action, "rollback");
  EXPECT_EQ((*audit)[3].horizon, 1);

  // The platform's lines and the tenant's together: what the tenant can be served.
  ASSERT_OK(reg_->Register(kPlatformTenant, *h24->ensemble, Meta(h24->ds)));
  ASSERT_OK(reg_->Activate(kPlatformTenant, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_EQ(*ServedHorizons(*reg_, b_, {"EURUSD", market::Timeframe::kH1}), (std::vector<int>{24}));
  EXPECT_EQ(*ServedHorizons(*reg_, a_, {"EURUSD", market::Timeframe::kH1}),
            (std::vector<int>{1, 24}));
  bool from_platform = true;
  ASSERT_OK(ResolveActive(*reg_, a_, {"EURUSD", market::Timeframe::kH1}, 24, &from_platform));
  EXPECT_FALSE(from_platform) << "the tenant's own horizon-24 model comes first";
  ASSERT_OK(ResolveActive(*reg_, b_, {"EURUSD", market::Timeframe::kH1}, 24, &from_platform));
  EXPECT_TRUE(from_platform);
  EXPECT_EQ(ResolveActive(*reg_, b_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
}

TEST_P(DbRegistryTest, ActivateRollbackAndAudit) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  for (int i = 0; i < 3; ++i) ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  EXPECT_EQ(reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 1).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 1, "user:1"));
  clock_.Advance(kNanosPerSecond);
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 3, "user:2"));
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 3,
                             "user:2"));  // no-op, no audit row
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 2, "api_key:9"));
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 2);
  auto rb = reg_->RollbackAs(a_, {"EURUSD", market::Timeframe::kH1}, 1, "user:1");
  ASSERT_OK(rb);
  EXPECT_EQ(*rb, 3);
  ASSERT_OK(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  EXPECT_EQ(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 1).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 9).code(),
            StatusCode::kNotFound);

  auto audit = reg_->Audit(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(audit);
  ASSERT_EQ(audit->size(), 5u);
  EXPECT_EQ((*audit)[0].action, "activate");
  EXPECT_FALSE((*audit)[0].from_version.has_value());
  EXPECT_EQ((*audit)[0].to_version, 1);
  EXPECT_EQ((*audit)[0].actor, "user:1");
  EXPECT_EQ((*audit)[1].from_version, 1);
  EXPECT_EQ((*audit)[1].to_version, 3);
  EXPECT_EQ((*audit)[1].at, clock_.Now());
  EXPECT_EQ((*audit)[2].actor, "api_key:9");
  EXPECT_EQ((*audit)[3].action, "rollback");
  EXPECT_EQ((*audit)[3].from_version, 2);
  EXPECT_EQ((*audit)[3].to_version, 3);
  EXPECT_EQ((*audit)[4].to_version, 1);
  EXPECT_EQ((*audit)[4].actor, "");

  // The audit is append-only: the database itself refuses an UPDATE.
  Status upd = db().WithTx([](soci::session& sql) {
    sql << "UPDATE model_audit SET actor = 'forged'";
    return Status::Ok();
  });
  EXPECT_FALSE(upd.ok());
  auto after = reg_->Audit(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(after);
  EXPECT_EQ((*after)[0].actor, "user:1");
}

// The activation listener (app/ fits the version's interval calibration there) hears every
// activation and rollback target, after the switch is committed, and not a failed activation.
TEST_P(DbRegistryTest, ActivationListenerHearsActivationsAndRollbacks) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  for (int i = 0; i < 2; ++i) ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  std::vector<int64_t> heard;
  reg_->SetActivationListener([&](TenantId t, const market::SeriesKey& series, int64_t version) {
    EXPECT_EQ(t, a_);
    EXPECT_EQ(series.symbol, "EURUSD");
    EXPECT_EQ(series.timeframe, market::Timeframe::kH1);
    EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1),
              version);  // committed before the call
    heard.push_back(version);
  });
  ASSERT_OK(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  ASSERT_OK(reg_->ActivateAs(a_, {"EURUSD", market::Timeframe::kH1}, 2, "user:1"));
  EXPECT_EQ(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 9).code(),
            StatusCode::kNotFound);
  ASSERT_OK(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_EQ(heard, (std::vector<int64_t>{1, 2, 1}));
}

TEST_P(DbRegistryTest, CorruptedBytesAreDataLossNamingTheVersionAndActiveIsUnchanged) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  // Flip one byte of member 1 of version 2.
  std::string bytes = m.ensemble->member_ubj()[1];
  bytes[bytes.size() / 2] ^= 0x5a;
  ASSERT_OK(reg_->TEST_OverwriteFile(a_, {"EURUSD", market::Timeframe::kH1}, 2, 1, bytes));
  auto load = reg_->Load(a_, {"EURUSD", market::Timeframe::kH1}, 2);
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.error().code(), StatusCode::kDataLoss);
  EXPECT_NE(load.error().message().find("version 2"), std::string::npos) << load.error().ToString();
  EXPECT_NE(load.error().message().find("member_1.ubj"), std::string::npos)
      << load.error().ToString();
  Status act = reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 2);
  EXPECT_EQ(act.code(), StatusCode::kDataLoss);
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 1);
  ASSERT_OK(reg_->Load(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  // Truncated bytes too; and a rollback onto a corrupted version is refused.
  ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 3));
  ASSERT_OK(reg_->TEST_OverwriteFile(a_, {"EURUSD", market::Timeframe::kH1}, 1, 0,
                                     std::string("\0\1", 2)));
  EXPECT_EQ(reg_->Rollback(a_, {"EURUSD", market::Timeframe::kH1}, 1).code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(*reg_->ActiveVersion(a_, {"EURUSD", market::Timeframe::kH1}, 1), 3);
}

TEST_P(DbRegistryTest, TenantsCannotSeeOrUseEachOthersModels) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_EQ(reg_->GetRecord(b_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(reg_->Load(b_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(reg_->Activate(b_, {"EURUSD", market::Timeframe::kH1}, 1).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(reg_->List(b_, {"EURUSD", market::Timeframe::kH1})->empty());
  EXPECT_EQ(reg_->ActiveVersion(b_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(reg_->GetReport(b_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
  // B's own version 1 is independent of A's.
  ASSERT_OK(reg_->Register(b_, *m.ensemble, Meta(m.ds)));
  EXPECT_EQ(reg_->List(b_, {"EURUSD", market::Timeframe::kH1})->size(), 1u);
  EXPECT_EQ(reg_->List(a_, {"EURUSD", market::Timeframe::kH1})->size(), 1u);
  EXPECT_EQ(reg_->ActiveVersion(b_, {"EURUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);

  if (is_postgres()) {
    // Row-level security: a tenant transaction that forgets the tenant filter still sees only
    // its own rows (and platform rows).
    long long versions = -1, files = -1;
    ASSERT_OK(db().WithTenantReadTx(b_, [&](soci::session& sql) {
      sql << "SELECT COUNT(*) FROM model_versions", soci::into(versions);
      sql << "SELECT COUNT(*) FROM model_files", soci::into(files);
      return Status::Ok();
    }));
    EXPECT_EQ(versions, 1);
    EXPECT_EQ(files, static_cast<long long>(m.ensemble->num_members() + 3));
    // ... and can't write rows of another tenant or of the platform.
    Status forged = db().WithTenantTx(b_, [&](soci::session& sql) {
      long long a = a_.value();
      sql << "INSERT INTO model_active (tenant_id, symbol, timeframe, version, history, "
             "updated_at) VALUES (:t, 'EURUSD', 'M5', 1, '[]', 0)",
          soci::use(a);
      return Status::Ok();
    });
    EXPECT_FALSE(forged.ok());
    Status platform = db().WithTenantTx(b_, [&](soci::session& sql) {
      sql << "INSERT INTO model_active (tenant_id, symbol, timeframe, version, history, "
             "updated_at) VALUES (NULL, 'EURUSD', 'M5', 1, '[]', 0)";
      return Status::Ok();
    });
    EXPECT_FALSE(platform.ok());
  }
}

TEST_P(DbRegistryTest, PlatformDefaultsReachTenantsOnlyThroughResolveActive) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  auto p = reg_->Register(kPlatformTenant, *m.ensemble, Meta(m.ds));
  ASSERT_OK(p);
  EXPECT_EQ(p->tenant, kPlatformTenant);
  ASSERT_OK(reg_->Activate(kPlatformTenant, {"EURUSD", market::Timeframe::kH1}, 1));
  EXPECT_TRUE(reg_->List(a_, {"EURUSD", market::Timeframe::kH1})->empty());
  bool from_platform = false;
  auto ens = ResolveActive(*reg_, a_, {"EURUSD", market::Timeframe::kH1}, 1, &from_platform);
  ASSERT_OK(ens);
  EXPECT_TRUE(from_platform);
  // The tenant's own active model wins once it has one.
  ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  ASSERT_OK(reg_->Activate(a_, {"EURUSD", market::Timeframe::kH1}, 1));
  ASSERT_OK(ResolveActive(*reg_, a_, {"EURUSD", market::Timeframe::kH1}, 1, &from_platform));
  EXPECT_FALSE(from_platform);
  EXPECT_EQ(ResolveActive(*reg_, a_, {"GBPUSD", market::Timeframe::kH1}, 1).error().code(),
            StatusCode::kNotFound);
}

TEST_P(DbRegistryTest, ReportsAreStoredWithTheVersion) {
  const auto& m = Model();
  ASSERT_OK(m.ensemble);
  StoredReport rep{R"({"rows":1})", "# report\n![r](report/reliability.svg)\n", "<svg>r</svg>",
                   "<svg>c</svg>"};
  auto rec = reg_->RegisterWithReport(a_, *m.ensemble, Meta(m.ds), &rep);
  ASSERT_OK(rec);
  auto got = reg_->GetReport(a_, {"EURUSD", market::Timeframe::kH1}, rec->version);
  ASSERT_OK(got);
  EXPECT_EQ(got->json, rep.json);
  EXPECT_EQ(got->markdown, rep.markdown);
  EXPECT_EQ(got->reliability_svg, rep.reliability_svg);
  EXPECT_EQ(got->coverage_svg, rep.coverage_svg);
  ASSERT_OK(reg_->Register(a_, *m.ensemble, Meta(m.ds)));
  EXPECT_EQ(reg_->GetReport(a_, {"EURUSD", market::Timeframe::kH1}, 2).error().code(),
            StatusCode::kNotFound);
  // Bad keys name the field.
  EXPECT_EQ(reg_->List(a_, {"EUR/USD", market::Timeframe::kH1}).error().field(), "symbol");
  // A typed key's timeframe is always valid; a record's text is checked when it is registered.
  ModelRecord bad_timeframe = Meta(m.ds);
  bad_timeframe.timeframe = "";
  EXPECT_EQ(reg_->Register(a_, *m.ensemble, bad_timeframe).error().field(), "timeframe");
}

INSTANTIATE_TEST_SUITE_P(Backends, DbRegistryTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::models
