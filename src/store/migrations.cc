#include "store/migrations.h"

#include <array>

namespace sinyal::store {
namespace {

// PostgreSQL helper used by every tenant table's migration (see migrations.h step 3).
//   tenant_isolation: rows whose tenant column equals the transaction's app.tenant_id. Applies to
//     every role, the app role included; an unset/empty setting matches nothing (fail closed).
//   system_access: the owner role (the migrating, connecting user) sees all rows only while
//     app.system = 'on', which Database::WithTx sets for its transaction. The app role never
//     gets it, so SET LOCAL ROLE app_role in WithTenantTx always means "tenant rows only".
constexpr std::string_view kRlsHelper = R"SQL(
CREATE OR REPLACE FUNCTION sinyal_enable_tenant_rls(tbl regclass, col text DEFAULT 'tenant_id')
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s '
                 'USING (%I = NULLIF(current_setting(''app.tenant_id'', true), '''')::bigint) '
                 'WITH CHECK (%I = NULLIF(current_setting(''app.tenant_id'', true), '''')::bigint)',
                 tbl, col, col);
  EXECUTE format('DROP POLICY IF EXISTS system_access ON %s', tbl);
  EXECUTE format('CREATE POLICY system_access ON %s TO %I '
                 'USING (current_setting(''app.system'', true) = ''on'') '
                 'WITH CHECK (current_setting(''app.system'', true) = ''on'')',
                 tbl, current_user);
END
$fn$;
)SQL";

constexpr std::array kMigrations = {
    Migration{
        1,
        "accounts",
        R"SQL(
CREATE TABLE tenants (
  id {{id}},
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE users (
  id {{id}},
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users(tenant_id);
CREATE TABLE operators (
  id {{id}},
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
  id {{id}},
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(tenant_id, family);
CREATE INDEX refresh_tokens_user ON refresh_tokens(tenant_id, user_id);
CREATE TABLE api_keys (
  id {{id}},
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  expires_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, user_id);
)SQL",
        R"SQL(
SELECT sinyal_enable_tenant_rls('tenants', 'id');
SELECT sinyal_enable_tenant_rls('users');
SELECT sinyal_enable_tenant_rls('refresh_tokens');
SELECT sinyal_enable_tenant_rls('api_keys');
)SQL",
        "",
    },
    // Market data (store/bar_store.h). A series is platform-wide (tenant_id NULL: operators'
    // feeds) or private to one tenant. market_bars repeats the series' tenant_id (NULL for
    // platform rows costs one null-bitmap bit in PostgreSQL) so that its row-level security is a
    // plain column test on the read path. RLS (PostgreSQL): a tenant reads platform rows and its
    // own, writes only its own (and only bars of its own series); the owner role in system scope
    // (operators) sees and writes everything.
    Migration{
        2,
        "market_bars",
        R"SQL(
CREATE TABLE market_series (
  id {{id}},
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  symbol TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  source TEXT NOT NULL,
  revision BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX market_series_key ON market_series(COALESCE(tenant_id, 0), symbol, timeframe);
)SQL",
        R"SQL(
CREATE TABLE market_bars (
  series_id BIGINT NOT NULL REFERENCES market_series(id) ON DELETE CASCADE,
  tenant_id BIGINT,
  ts BIGINT NOT NULL,
  open DOUBLE PRECISION NOT NULL,
  high DOUBLE PRECISION NOT NULL,
  low DOUBLE PRECISION NOT NULL,
  close DOUBLE PRECISION NOT NULL,
  volume DOUBLE PRECISION NOT NULL,
  spread INTEGER NOT NULL,
  real_volume DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (series_id, ts)
);
SELECT sinyal_enable_tenant_rls('market_series');
DROP POLICY tenant_isolation ON market_series;
CREATE POLICY tenant_read ON market_series FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
CREATE POLICY tenant_write ON market_series FOR ALL
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
SELECT sinyal_enable_tenant_rls('market_bars');
DROP POLICY tenant_isolation ON market_bars;
CREATE POLICY tenant_read ON market_bars FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
CREATE POLICY tenant_write ON market_bars FOR ALL
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
              AND EXISTS (SELECT 1 FROM market_series s WHERE s.id = series_id
                          AND s.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint));
)SQL",
        R"SQL(
CREATE TABLE market_bars (
  series_id BIGINT NOT NULL REFERENCES market_series(id) ON DELETE CASCADE,
  tenant_id BIGINT,
  ts BIGINT NOT NULL,
  open DOUBLE PRECISION NOT NULL,
  high DOUBLE PRECISION NOT NULL,
  low DOUBLE PRECISION NOT NULL,
  close DOUBLE PRECISION NOT NULL,
  volume DOUBLE PRECISION NOT NULL,
  spread INTEGER NOT NULL,
  real_volume DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
)SQL",
    },
    // Tenant-defined feature sets (store/feature_set_store.h): the validated JSON config and its
    // features::ConfigHash, per tenant, name and version. Platform defaults live in code.
    Migration{
        3,
        "feature_sets",
        R"SQL(
CREATE TABLE feature_sets (
  id {{id}},
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  config TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (tenant_id, name, version)
);
)SQL",
        R"SQL(
SELECT sinyal_enable_tenant_rls('feature_sets');
)SQL",
        "",
    },
    // Job queue (store/job_queue.h): training and other background work, claimed by workers
    // with a lease. tenant_id NULL = a platform job (operators). Tenants see only their own jobs.
    // At most one queued or running job per (owner, dedupe_key).
    Migration{
        4,
        "jobs",
        R"SQL(
CREATE TABLE jobs (
  id {{id}},
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  dedupe_key TEXT,
  payload TEXT NOT NULL,
  progress DOUBLE PRECISION NOT NULL DEFAULT 0,
  stage TEXT NOT NULL DEFAULT '',
  result TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  worker TEXT,
  lease_expires_at BIGINT,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_claim ON jobs(status, id);
CREATE INDEX jobs_tenant ON jobs(tenant_id, id);
CREATE UNIQUE INDEX jobs_dedupe ON jobs(COALESCE(tenant_id, 0), dedupe_key)
  WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
)SQL",
        R"SQL(
SELECT sinyal_enable_tenant_rls('jobs');
)SQL",
        "",
    },
    // Model registry (models/db_registry.h) and per-tenant model configuration: versions, their
    // stored files (XGBoost UBJ members + JSON parts, each with its SHA-256), evaluation
    // reports, the active pointer with its rollback history, and an append-only audit of
    // activations (UPDATE rejected by a trigger on both backends; PostgreSQL tenants may only
    // SELECT and INSERT). tenant_id NULL = platform default models: RLS (PostgreSQL) lets a
    // tenant read platform rows and its own and write only its own, as for market_series.
    Migration{
        5,
        "models",
        R"SQL(
CREATE TABLE model_versions (
  id {{id}},
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  symbol TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  version BIGINT NOT NULL,
  record TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX model_versions_key
  ON model_versions(COALESCE(tenant_id, 0), symbol, timeframe, version);
CREATE TABLE model_files (
  model_id BIGINT NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes {{blob}} NOT NULL,
  PRIMARY KEY (model_id, idx)
);
CREATE TABLE model_reports (
  model_id BIGINT PRIMARY KEY REFERENCES model_versions(id) ON DELETE CASCADE,
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  report_json TEXT NOT NULL,
  report_md TEXT NOT NULL,
  reliability_svg TEXT NOT NULL,
  coverage_svg TEXT NOT NULL
);
CREATE TABLE model_active (
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  symbol TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  version BIGINT NOT NULL,
  history TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX model_active_key ON model_active(COALESCE(tenant_id, 0), symbol, timeframe);
CREATE TABLE model_audit (
  id {{id}},
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE CASCADE,
  symbol TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('activate', 'rollback')),
  from_version BIGINT,
  to_version BIGINT NOT NULL,
  actor TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX model_audit_key ON model_audit(COALESCE(tenant_id, 0), symbol, timeframe, id);
CREATE TABLE model_configs (
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  symbol TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  config TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, symbol, timeframe)
);
)SQL",
        R"SQL(
CREATE OR REPLACE FUNCTION sinyal_enable_shared_rls(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM sinyal_enable_tenant_rls(tbl);
  EXECUTE format('DROP POLICY tenant_isolation ON %s', tbl);
  EXECUTE format('CREATE POLICY tenant_read ON %s FOR SELECT USING (tenant_id IS NULL OR '
                 'tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::bigint)', tbl);
  EXECUTE format('CREATE POLICY tenant_write ON %s FOR ALL '
                 'USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::bigint) '
                 'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::bigint)',
                 tbl);
END
$fn$;
SELECT sinyal_enable_shared_rls('model_versions');
SELECT sinyal_enable_shared_rls('model_files');
SELECT sinyal_enable_shared_rls('model_reports');
SELECT sinyal_enable_shared_rls('model_active');
SELECT sinyal_enable_tenant_rls('model_configs');
SELECT sinyal_enable_tenant_rls('model_audit');
DROP POLICY tenant_isolation ON model_audit;
CREATE POLICY tenant_read ON model_audit FOR SELECT
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
CREATE POLICY tenant_append ON model_audit FOR INSERT
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
CREATE OR REPLACE FUNCTION sinyal_reject_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$fn$;
CREATE TRIGGER model_audit_append_only BEFORE UPDATE ON model_audit
  FOR EACH ROW EXECUTE FUNCTION sinyal_reject_update();
)SQL",
        R"SQL(
CREATE TRIGGER model_audit_append_only BEFORE UPDATE ON model_audit
BEGIN
  SELECT RAISE(ABORT, 'model_audit is append-only');
END;
)SQL",
    },
    // Operator feed keys (accounts.h CreateOperatorKey): API keys owned by a platform operator,
    // with scope "feed", used by market data feeds (POST /api/v1/market/ticks, the WebSocket
    // feed). No tenant: a platform table, like operators.
    Migration{
        6,
        "operator_keys",
        R"SQL(
CREATE TABLE operator_keys (
  id {{id}},
  operator_id BIGINT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX operator_keys_operator ON operator_keys(operator_id, id);
)SQL",
        "",
        "",
    },
// Areas built in parallel own one migration each, in their own file (see migrations.h):
// In version order; clang-format would sort these by name.
// clang-format off
#include "store/migrations_signals.inc"     // 7: issued signals, resolutions, signal calibrations
#include "store/migrations_billing.inc"     // 8: plans, subscriptions, usage ledger, idempotency
#include "store/migrations_retraining.inc"  // 9: retraining decisions (audit)
#include "store/migrations_billing_retention.inc"  // 10: index for idempotency expiry
#include "store/migrations_entitlements.inc"  // 20: plans' training bounds; features only as gated
#include "store/migrations_payments.inc"  // 30-39: subscriptions, term invoices, payments
#include "store/migrations_trading.inc"    // 40-43: backtests, paper trading accounts, their plan features
#include "store/migrations_models.inc"     // 50-51: the active model and the signals per horizon
#include "store/migrations_notify.inc"     // 60-69: Telegram (links, alerts, send queue)
#include "store/migrations_audit.inc"      // 80-89: the security audit trail
#include "store/migrations_security.inc"   // 90: append-only tables refuse DELETE
#include "store/migrations_jobs.inc"       // 91: job retries with back-off
    // clang-format on
    // Append new migrations here (see migrations.h).
};

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

std::span<const Migration> AllMigrations() { return kMigrations; }

std::string MigrationSql(const Migration& m, Dialect dialect) {
  std::string sql(m.sql);
  const bool pg = dialect == Dialect::kPostgres;
  ReplaceAll(sql, "{{id}}",
             pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
                : "INTEGER PRIMARY KEY AUTOINCREMENT");
  ReplaceAll(sql, "{{blob}}", pg ? "BYTEA" : "BLOB");
  ReplaceAll(
      sql, "{{now_s}}",
      pg ? "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)" : "CAST(strftime('%s','now') AS INTEGER)");
  if (pg) {
    // The RLS helper is (re)created with the first migration that needs it; it is idempotent.
    if (m.version == 1) sql = std::string(kRlsHelper) + sql;
    sql += "\n";
    sql += m.postgres_only;
  } else {
    sql += "\n";
    sql += m.sqlite_only;
  }
  return sql;
}

}  // namespace sinyal::store
