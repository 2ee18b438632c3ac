// Sinyal's configuration: typed structs with documented defaults (leveldb Options), read in this
// order, each later source overriding the earlier: defaults < TOML file < SINYAL_* environment
// variables < command-line flags. Unknown keys in the file are errors (userver's
// additionalProperties: false); values are range-checked once, here.
//
// Environment variables are named SINYAL_<SECTION>_<KEY>, e.g. SINYAL_SERVER_PORT,
// SINYAL_DATABASE_URL, SINYAL_AUTH_JWT_SECRET. Other SINYAL_* variables (SINYAL_DATA_DIR, ...)
// belong to tools and tests and are ignored here.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/status.h"

namespace sinyal::app {

struct Config {
  struct Server {
    std::string host = "127.0.0.1";  // Default: loopback.
    int64_t port = 8080;             // Default: 8080. [1, 65535]
    int64_t io_threads = 2;          // Default: 2. [1, 64]
    // Connections accepted at once in a burst (http::ServerOptions::accept_concurrency).
    // Default: 64. [1, 1024]
    int64_t accept_concurrency = 64;
    // Threads for blocking routes: password hashing (at most 4 at once), database reads of the
    // billing/usage/analytics routes (pool_size connections), imports, model activation. The
    // metered prediction routes no longer use them (deferred responses on the I/O threads).
    // Default: 16. [1, 256]
    int64_t blocking_threads = 16;
    int64_t max_body_bytes = 1 << 20;   // Default: 1 MiB. [1 KiB, 64 MiB]
    int64_t shutdown_grace_ms = 10000;  // Default: 10 s. [0, 600000]
    std::string docs_assets_dir = "web/node_modules/redoc/bundles";  // Redoc bundle for /docs
    // The dashboard (Vite build of web/, by scripts/build.sh), served at / (http/static_site.h).
    // Default: web/dist. Missing: the API still serves; / says how to build the dashboard.
    std::string web_dir = "web/dist";
    std::string data_dir = "var";  // Default: ./var (SQLite file, generated secrets).
  } server;
  struct Database {
    std::string url;        // Default: sqlite://<data_dir>/sinyal.db. Or postgresql://...
    int64_t pool_size = 8;  // Default: 8. [1, 256]
  } database;
  struct Auth {
    // HMAC key for access tokens (>= 32 bytes). Default: generated once and kept in
    // <data_dir>/jwt_secret (mode 0600). Set it explicitly when several servers share a database.
    std::string jwt_secret;
    std::string issuer = "sinyal";
    std::string audience = "sinyal-api";
    int64_t access_ttl_seconds = 900;        // Default: 15 min. [60, 86400]
    int64_t refresh_ttl_seconds = 2592000;   // Default: 30 days. [3600, 31536000]
    int64_t api_key_cache_ttl_seconds = 10;  // Default: 10 s. [0, 300]
  } auth;
  struct Log {
    std::string level = "info";  // trace, debug, info, warn, error, critical, off
    bool access_log = true;
  } log;
  struct Redis {
    std::string url;  // Default: empty (in-process rate limits). e.g. redis://127.0.0.1:6379
  } redis;
  // Background jobs (model training) from the database queue (store/job_queue.h).
  struct Worker {
    bool in_process = true;           // Default: true: `serve` runs one worker thread itself.
    int64_t poll_interval_ms = 1000;  // Default: 1 s between looks at an empty queue. [10, 60000]
    int64_t lease_seconds =
        60;  // Default: 60 s; a crashed worker's job is retried after it. [5, 3600]
    int64_t xgboost_threads = 2;  // Default: 2 XGBoost threads per training. [1, 64]
    // Every this many seconds the worker's scheduler queues a retrain_check job for every active
    // model (signals/retraining_job.h). Default: 0 = off (checks only on request). [0, 604800]
    int64_t retrain_check_seconds = 0;
    // Newest bars a retraining challenger is trained on. Default: 5000. [500, 300000]
    int64_t retrain_window_bars = 5000;
    // Cooldown after a rejected challenger or a rollback (RetrainingJobOptions): no new challenger
    // until this many bars have closed after the decision's last bar ... Default: 500. [0, 1000000]
    int64_t retrain_cooldown_bars = 500;
    // ... AND this many seconds have passed since it. Default: 0. [0, 31536000]
    int64_t retrain_cooldown_seconds = 0;
    // Feature drift (DriftRule): the newest this many feature rows are compared with the version's
    // reference. Default: 1000. [100, 100000]; at most retrain_window_bars / 2 (the per-feature
    // thresholds need 2 windows of training rows).
    int64_t drift_window_rows = 1000;
    // Drift when at least this many features exceed their own thresholds. Default: 3. [1, 100]
    int64_t drift_min_features = 3;
  } worker;
  // Paper trading (backtest/paper.h, docs/paper-trading.md).
  struct Trading {
    // Accept http:// and private / loopback hosts as paper accounts' order-stream webhook URLs
    // (an executor on the same host or network). Default: false (https:// to public hosts only).
    bool allow_private_webhooks = false;
  } trading;
  struct Billing {
    // Idempotency records (first response of an Idempotency-Key) older than this are deleted by
    // `serve` every 10 minutes (billing/retention.h); a retry after that is a new call (new work,
    // new charge). The usage ledger is kept. Default: 72 h (docs/billing.md). [1, 8760]
    int64_t idempotency_retention_hours = 72;
  } billing;
  // Midtrans (issue 11; docs/payments.md). Without a server key `serve` uses Sinyal's local
  // Midtrans sandbox (SIMULATED: no money moves) and says so in its log and checkout answers.
  struct Midtrans {
    std::string server_key;  // secret (SINYAL_MIDTRANS_SERVER_KEY); never logged
    std::string client_key;  // for snap.js on the dashboard (public)
    // "sandbox" (app.sandbox / api.sandbox.midtrans.com) or "production". Default: sandbox.
    std::string environment = "sandbox";
    // Overrides of the base URLs (e.g. a standalone `sinyal midtrans-sandbox`). Default: empty
    // (from environment).
    std::string snap_base_url;
    std::string core_base_url;
    // Snap channels, comma-separated. Default: credit_card, bca_va, bni_va, bri_va, echannel,
    // permata_va, gopay, shopeepay, other_qris.
    std::string enabled_payments;
    std::string finish_url;     // callbacks.finish. Default: empty (Midtrans's own page)
    int64_t timeout_ms = 3000;  // per gateway call. Default: 3 s. [100, 15000]
  } midtrans;
  struct Payments {
    int64_t renewal_notice_days = 7;  // renewal invoice this many days before the term end. [0, 60]
    int64_t grace_days = 3;           // plan kept this long after an unpaid term end. [0, 60]
    int64_t order_expiry_minutes = 1440;  // Snap expiry of new/upgrade orders. [5, 43200]
    // Every this many seconds `serve` queues the payments_reconcile job (renewals, lapses, the
    // status poll of open orders). Default: 60. [5, 3600]
    int64_t reconcile_interval_seconds = 60;
    // Orders still open after this many seconds are polled. Default: 600. [10, 86400]
    int64_t reconcile_after_seconds = 600;
    // The local sandbox's notification retry delays are Midtrans's times this, in thousandths
    // (1000 = 2, 10, 30, 90, 210 min). Default: 1000. [1, 1000]
    int64_t sandbox_retry_scale_permille = 1000;
  } payments;
  struct Signals {
    // How often Latest() checks a series for newly stored bars and its route for a newly
    // activated model (signals/service.h); between checks it reads no database. Default: 1000 ms.
    // [0, 60000]; 0 = every call (tests).
    int64_t bar_check_interval_ms = 1000;
  } signals;
  // First run (app/first_run.h): on a database with no market data, `serve` imports the sample of
  // real bars in sample_dir, trains the platform default models (as `sinyal admin
  // train-defaults`) and replays the newest replay_bars bars of each series through the live
  // path, in the background, with progress in the log.
  struct FirstRun {
    bool enabled = true;                     // Default: true.
    std::string sample_dir = "data/sample";  // Default: the repository's sample (data/sample).
    int64_t replay_bars = 240;               // Default: 240 (10 trading days of H1). [0, 5000]
    std::string horizons;                    // models' horizons, e.g. "1,4,24". Default: empty =
                                             // the platform defaults (app/models_cli.h: 1, 4, 24).
  } first_run;

  // Telegram (notify/telegram.h, docs/telegram.md). Off unless bot_token is set.
  struct Telegram {
    std::string
        bot_token;  // from @BotFather; set it by env SINYAL_TELEGRAM_BOT_TOKEN. Never logged.
    std::string bot_username;  // for deep links, without '@'. Default: asked with getMe.
    // The Bot API. Default: https://api.telegram.org. Tests and demos: the FAKE server's URL.
    std::string api_url = "https://api.telegram.org";
    std::string mode = "polling";  // polling | webhook
    std::string webhook_url;       // webhook mode: registered with setWebhook at start when set
    std::string webhook_secret;    // webhook mode: required, 16..256 of A-Z a-z 0-9 _ -
    int64_t poll_timeout_seconds = 25;     // long-poll timeout. [0, 50]
    int64_t link_token_ttl_seconds = 600;  // one-time link lifetime. [60, 86400]
    // Flood limits (research-tranche2.md B.2): ~30 msg/s overall, 1 msg/s per chat, 20 msg/min per
    // group. Tests scale them (they stay checked at the scaled values).
    int64_t global_per_second = 30;       // [1, 100000]
    int64_t per_chat_interval_ms = 1000;  // [0, 60000]
    int64_t group_per_minute = 20;        // messages per group window. [1, 1000]
    int64_t group_window_ms = 60000;      // [1, 3600000]
    int64_t sender_threads = 8;           // concurrent sendMessage requests. [1, 64]
    // Chart link in alerts; {symbol} and {timeframe} are replaced. Empty: none.
    std::string chart_url;
    int64_t quota_check_seconds = 300;  // quota 80%/100% notices; 0 = off. [0, 86400]
  } telegram;
  struct Models {
    int64_t report_folds = 5;  // Default: 5 walk-forward folds per trained version. [1, 20]
  } models;
};

// Applies a TOML document (text) on top of `config`. Errors name the key ("server.port") and,
// for syntax errors, the line.
[[nodiscard]] Status ApplyToml(std::string_view toml_text, std::string_view source_name,
                               Config& config);
// Reads and applies a TOML file.
[[nodiscard]] Status ApplyTomlFile(const std::string& path, Config& config);
// Applies SINYAL_<SECTION>_<KEY> variables from `env` (name -> value).
[[nodiscard]] Status ApplyEnv(const std::map<std::string, std::string>& env, Config& config);
// Sets one key by dotted name ("server.port") from text; used by file, env and flags alike.
[[nodiscard]] Status SetKey(const std::string& dotted, const std::string& value, Config& config);
// Range checks and derived defaults (database URL from data_dir). Call once after all sources.
[[nodiscard]] Status Finalize(Config& config);

// The process environment as a map (app/ is the only module that reads it).
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace sinyal::app
