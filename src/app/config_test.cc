#include "app/config.h"

#include "app/models_cli.h"
#include "core/testing/test_util.h"

namespace sinyal::app {
namespace {

TEST(ConfigTest, LayersFileThenEnvThenFlags) {
  Config c;
  ASSERT_OK(ApplyToml("[server]\nport = 9000\nhost = \"0.0.0.0\"\n[log]\naccess_log = false\n",
                      "t.toml", c));
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_FALSE(c.log.access_log);
  ASSERT_OK(ApplyEnv({{"SINYAL_SERVER_PORT", "9100"}, {"SINYAL_DATA_DIR", "ignored"}}, c));
  EXPECT_EQ(c.server.port, 9100);
  ASSERT_OK(SetKey("server.port", "9200", c));
  EXPECT_EQ(c.server.port, 9200);
  ASSERT_OK(Finalize(c));
  EXPECT_EQ(c.database.url, "sqlite://var/sinyal.db");
}

TEST(ConfigTest, RejectsUnknownKeysWrongTypesAndRanges) {
  Config c;
  Status unknown = ApplyToml("[server]\nprot = 1\n", "t.toml", c);
  EXPECT_EQ(unknown.field(), "server.prot");
  EXPECT_EQ(ApplyToml("[nope]\nx = 1\n", "t.toml", c).field(), "nope.x");
  EXPECT_EQ(ApplyToml("[server]\nport = \"80\"\n", "t.toml", c).field(), "server.port");
  EXPECT_EQ(ApplyToml("[server]\nport = 70000\n", "t.toml", c).field(), "server.port");
  Status syntax = ApplyToml("[server\nport = 1\n", "t.toml", c);
  EXPECT_EQ(syntax.field(), "line 1");
  EXPECT_EQ(ApplyEnv({{"SINYAL_SERVER_PORT", "eighty"}}, c).field(), "SINYAL_SERVER_PORT");
  c.database.url = "mysql://x";
  EXPECT_EQ(Finalize(c).field(), "database.url");
  Config d;
  d.auth.jwt_secret = "short";
  EXPECT_EQ(Finalize(d).field(), "auth.jwt_secret");
}

TEST(ConfigTest, RetrainingKeysDefaultToTheJobDefaultsAndReachTheJobOptions) {
  // Unset keys: exactly the retraining job's own defaults (signals/retraining_job.h, drift.h).
  Config defaults;
  ASSERT_OK(Finalize(defaults));
  const signals::RetrainingJobOptions job_defaults;
  const signals::RetrainingJobOptions from_defaults = RetrainingOptionsFrom(defaults);
  EXPECT_EQ(from_defaults.train_window_bars, job_defaults.train_window_bars);
  EXPECT_EQ(from_defaults.cooldown_bars, job_defaults.cooldown_bars);
  EXPECT_EQ(from_defaults.cooldown_seconds, job_defaults.cooldown_seconds);
  EXPECT_EQ(from_defaults.drift.window, job_defaults.drift.window);
  EXPECT_EQ(from_defaults.drift.min_features, job_defaults.drift.min_features);

  Config c;
  ASSERT_OK(
      ApplyToml("[worker]\nretrain_cooldown_bars = 120\nretrain_cooldown_seconds = 3600\n"
                "drift_window_rows = 600\n",
                "t.toml", c));
  ASSERT_OK(ApplyEnv({{"SINYAL_WORKER_DRIFT_MIN_FEATURES", "5"}}, c));
  ASSERT_OK(Finalize(c));
  const signals::RetrainingJobOptions o = RetrainingOptionsFrom(c);
  EXPECT_EQ(o.cooldown_bars, 120u);
  EXPECT_EQ(o.cooldown_seconds, 3600);
  EXPECT_EQ(o.drift.window, 600u);
  EXPECT_EQ(o.drift.min_features, 5);
}

TEST(ConfigTest, BadRetrainingValuesNameTheKey) {
  Config c;
  EXPECT_EQ(ApplyToml("[worker]\nretrain_cooldown_bars = -1\n", "t.toml", c).field(),
            "worker.retrain_cooldown_bars");
  EXPECT_EQ(ApplyToml("[worker]\nretrain_cooldown_seconds = \"1h\"\n", "t.toml", c).field(),
            "worker.retrain_cooldown_seconds");
  EXPECT_EQ(ApplyToml("[worker]\ndrift_window_rows = 99\n", "t.toml", c).field(),
            "worker.drift_window_rows");
  EXPECT_EQ(ApplyToml("[worker]\ndrift_min_features = 0\n", "t.toml", c).field(),
            "worker.drift_min_features");
  EXPECT_EQ(ApplyEnv({{"SINYAL_WORKER_DRIFT_MIN_FEATURES", "three"}}, c).field(),
            "SINYAL_WORKER_DRIFT_MIN_FEATURES");
  EXPECT_EQ(c.worker.retrain_cooldown_bars, 500);  // a refused value changes nothing
  EXPECT_EQ(c.worker.drift_min_features, 3);
  // The per-feature thresholds need 2 windows of training rows.
  Config d;
  ASSERT_OK(SetKey("worker.retrain_window_bars", "1000", d));
  ASSERT_OK(SetKey("worker.drift_window_rows", "600", d));
  Status s = Finalize(d);
  EXPECT_EQ(s.field(), "worker.drift_window_rows");
  EXPECT_NE(s.message().find("retrain_window_bars"), std::string::npos) << s.message();
  ASSERT_OK(SetKey("worker.drift_window_rows", "500", d));
  EXPECT_OK(Finalize(d));
}

TEST(ConfigTest, IdempotencyRetentionHours) {
  Config c;
  EXPECT_EQ(c.billing.idempotency_retention_hours, 72);
  ASSERT_OK(ApplyToml("[billing]\nidempotency_retention_hours = 24\n", "t.toml", c));
  EXPECT_EQ(c.billing.idempotency_retention_hours, 24);
  EXPECT_EQ(ApplyToml("[billing]\nidempotency_retention_hours = 0\n", "t.toml", c).field(),
            "billing.idempotency_retention_hours");
  EXPECT_EQ(ApplyEnv({{"SINYAL_BILLING_IDEMPOTENCY_RETENTION_HOURS", "9000"}}, c).field(),
            "SINYAL_BILLING_IDEMPOTENCY_RETENTION_HOURS");
  EXPECT_EQ(c.billing.idempotency_retention_hours, 24);
}

TEST(ConfigTest, SignalsBarCheckIntervalMs) {
  Config c;
  EXPECT_EQ(c.signals.bar_check_interval_ms, 1000);
  ASSERT_OK(ApplyEnv({{"SINYAL_SIGNALS_BAR_CHECK_INTERVAL_MS", "0"}}, c));
  EXPECT_EQ(c.signals.bar_check_interval_ms, 0);
  EXPECT_EQ(ApplyToml("[signals]\nbar_check_interval_ms = -1\n", "t.toml", c).field(),
            "signals.bar_check_interval_ms");
  EXPECT_EQ(ApplyEnv({{"SINYAL_SIGNALS_BAR_CHECK_INTERVAL_MS", "60001"}}, c).field(),
            "SINYAL_SIGNALS_BAR_CHECK_INTERVAL_MS");
  EXPECT_EQ(c.signals.bar_check_interval_ms, 0);
}

TEST(ConfigTest, AcceptConcurrency) {
  Config c;
  EXPECT_EQ(c.server.accept_concurrency, 64);
  ASSERT_OK(ApplyToml("[server]\naccept_concurrency = 256\n", "t.toml", c));
  EXPECT_EQ(c.server.accept_concurrency, 256);
  EXPECT_EQ(ApplyToml("[server]\naccept_concurrency = 0\n", "t.toml", c).field(),
            "server.accept_concurrency");
  EXPECT_EQ(ApplyEnv({{"SINYAL_SERVER_ACCEPT_CONCURRENCY", "1025"}}, c).field(),
            "SINYAL_SERVER_ACCEPT_CONCURRENCY");
  EXPECT_EQ(c.server.accept_concurrency, 256);
}

TEST(ConfigTest, RedisUrlIsCheckedWithoutEchoingThePassword) {
  for (const char* bad :
       {"localhost:6379", "redis://u:hunter2@h:port", "rediss://h:6379", "redis://h/x"}) {
    Config c;
    c.redis.url = bad;
    Status s = Finalize(c);
    EXPECT_EQ(s.field(), "redis.url") << bad;
    EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
  }
  Config ok;
  ok.redis.url = "redis://:pw@127.0.0.1:6380/1";
  EXPECT_OK(Finalize(ok));
}

}  // namespace
}  // namespace sinyal::app

namespace sinyal::app {
namespace {

TEST(ConfigTest, FirstRunAndDashboardKeys) {
  Config c;
  EXPECT_TRUE(c.first_run.enabled);
  EXPECT_EQ(c.first_run.sample_dir, "data/sample");
  EXPECT_EQ(c.server.web_dir, "web/dist");
  ASSERT_OK(
      ApplyToml("[first_run]\nreplay_bars = 100\nsample_dir = \"/srv/sample\"\n[server]\nweb_dir = "
                "\"/srv/web\"\n",
                "t.toml", c));
  EXPECT_EQ(c.first_run.replay_bars, 100);
  EXPECT_EQ(c.first_run.sample_dir, "/srv/sample");
  EXPECT_EQ(c.server.web_dir, "/srv/web");
  ASSERT_OK(ApplyEnv({{"SINYAL_FIRST_RUN_ENABLED", "false"}}, c));
  EXPECT_FALSE(c.first_run.enabled);
  EXPECT_EQ(ApplyToml("[first_run]\nreplay_bars = 5001\n", "t.toml", c).field(),
            "first_run.replay_bars");
}

}  // namespace
}  // namespace sinyal::app
