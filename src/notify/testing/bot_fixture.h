// A whole TelegramBot for tests and benchmarks, wired as app/ wires it, on a real database, with
// the FAKE Bot API server over real HTTP on loopback, real billing, and a real SignalService
// serving a platform model trained on seeded synthetic bars ("SYNUSD" H1).
//
// Users are inserted in SQL (no argon2id hash: 1,000 users would take a minute); everything else
// goes through the real code.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "backtest/paper.h"
#include "billing/entitlements.h"
#include "billing/meter.h"
#include "billing/metered_call.h"
#include "billing/plans.h"
#include "core/testing/test_util.h"
#include "market/bar.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "models/testing/synthetic.h"
#include "notify/telegram.h"
#include "notify/testing/fake_bot_api.h"
#include "signals/db_signal_log.h"
#include "signals/interval_calibration_store.h"
#include "signals/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::notify::testing {

using models::testing::SyntheticMarketBars;

// Scaled flood limits for tests: 1,000 msg/s overall, 20 ms per chat, 5 per 500 ms per group.
inline FloodLimits TestLimits() {
  return {.global_per_second = 1000,
          .per_chat_interval_ms = 20,
          .group_per_window = 5,
          .group_window_ms = 500};
}

// Paper accounts in tests follow no live signals (the tests read summaries only).
class NoPaperSignals : public backtest::PaperSignalProvider {
 public:
  Result<std::optional<backtest::BarSignal>> SignalAt(TenantId, const backtest::StrategyConfig&,
                                                      const market::SeriesKey&, const market::Bar&,
                                                      UnixNanos) override {
    return std::optional<backtest::BarSignal>();
  }
};

class BotWorld {
 public:
  // `bars_held_back`: synthetic bars not imported at start (closed later with CloseNextBar).
  explicit BotWorld(store::Database& db, size_t bars_held_back = 3) : db_(db) {
    auto fake = FakeBotApi::Start({});
    if (!fake.ok()) {
      ADD_FAILURE() << fake.error().ToString();
      return;
    }
    fake_ = std::move(fake).value();
    accounts_ = std::make_unique<accounts::AccountService>(
        db_, clock_, accounts::AuthConfig{.jwt_secret = std::string(48, 'k')});
    plans_ = std::make_unique<billing::PlanStore>(db_, clock_,
                                                  billing::PlanStoreOptions{.cache_ttl = {}});
    subscriptions_ = std::make_unique<billing::Subscriptions>(
        db_, *plans_, clock_, billing::SubscriptionsOptions{.cache_ttl = {}});
    meter_ = std::make_unique<billing::Meter>(db_, *subscriptions_);
    entitlements_ = std::make_unique<billing::Entitlements>(*plans_, *subscriptions_);
    metered_ = std::make_unique<billing::MeteredCalls>(*entitlements_, *meter_, nullptr);
    bars_ = std::make_unique<store::BarStore>(db_, clock_);
    registry_ = std::make_unique<models::DbModelRegistry>(db_, clock_);
    calibrations_ = std::make_unique<signals::IntervalCalibrationStore>(db_, *bars_, *registry_,
                                                                        nullptr, clock_);
    // As app/ wires it: a version's interval calibration is fitted when it is stored.
    models::ModelServiceOptions mo{.code_version = "test", .report_folds = 2, .nthread = 1};
    mo.on_version_stored = [this](TenantId owner, const market::SeriesKey& series,
                                  const models::ModelRecord& r) {
      EXPECT_OK(calibrations_->Fit(owner, series, r.version).status());
    };
    models_ = std::make_unique<models::ModelService>(db_, *bars_, nullptr, *registry_, nullptr,
                                                     clock_, mo);
    log_ = std::make_unique<signals::DbSignalLog>(db_);
    all_bars_ = SyntheticMarketBars(6000 + bars_held_back, 7);
    imported_ = 6000;
    EXPECT_OK(bars_
                  ->Import(store::SeriesOwner::Platform(), {"SYNUSD", market::Timeframe::kH1},
                           std::span(all_bars_).first(imported_), {})
                  .status());
    auto trained =
        models_->Train(models::kPlatformTenant, {.series = {"SYNUSD", market::Timeframe::kH1},
                                                 .overrides = {{"trees", 15}},
                                                 .activate = true,
                                                 .actor = "test"});
    EXPECT_OK(trained.status());
    signals_ = std::make_unique<signals::SignalService>(
        *bars_, *registry_, nullptr, *log_, *calibrations_, clock_,
        signals::SignalServiceOptions{.bar_check_interval_nanos = 0, .background_thread = false});
    paper_ = std::make_unique<backtest::PaperService>(db_, *bars_, paper_signals_, clock_);
  }

  ~BotWorld() {
    bot_.reset();
    paper_.reset();
    signals_.reset();
    metered_.reset();
    entitlements_.reset();
    meter_.reset();
  }

  TelegramOptions Options() const {
    TelegramOptions o;
    o.api.base_url = fake_->base_url();
    o.api.token = fake_->options().token;
    o.api.timeout = std::chrono::milliseconds(3000);
    o.bot_username = fake_->options().bot_username;
    o.poll_timeout_seconds = 1;
    o.chart_url_template = "http://127.0.0.1:8080/#/chart/{symbol}/{timeframe}";
    o.send.limits = TestLimits();
    o.send.backoff_base = std::chrono::milliseconds(50);
    o.send.poll_interval = std::chrono::milliseconds(100);
    o.quota_check_seconds = 0;
    o.lease_seconds = 3;
    return o;
  }

  // Starts (or restarts) the bot with `options` (default: Options()).
  TelegramBot& StartBot(std::optional<TelegramOptions> options = std::nullopt) {
    bot_.reset();
    bot_ = std::make_unique<TelegramBot>(TelegramDeps{.db = &db_,
                                                      .clock = &clock_,
                                                      .accounts = accounts_.get(),
                                                      .plans = plans_.get(),
                                                      .subscriptions = subscriptions_.get(),
                                                      .meter = meter_.get(),
                                                      .signals = signals_.get(),
                                                      .paper = paper_.get(),
                                                      .metered = metered_.get()},
                                         options.value_or(Options()));
    EXPECT_OK(bot_->Start());
    // Wait until this process leads (polls and sends).
    for (int i = 0; i < 200 && !bot_->leader(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(bot_->leader());
    return *bot_;
  }
  void StopBot() { bot_.reset(); }

  TenantId CreateTenant(const std::string& name, const std::string& plan = "pro") {
    const TenantId t = store::testing::CreateTenant(db_, name);
    EXPECT_OK(subscriptions_->ChangePlan(t, plan, clock_.Now(), "test"));
    return t;
  }

  accounts::Principal CreateUser(TenantId tenant, const std::string& email, accounts::Role role) {
    long long id = 0;
    const std::string role_name(accounts::RoleName(role));
    const std::string display = email.substr(0, email.find('@'));
    EXPECT_OK(db_.WithTx([&](soci::session& sql) {
      sql << "INSERT INTO users (tenant_id, email, password_hash, display_name, role, created_at) "
             "VALUES "
             "(:t, :e, 'x', :d, :r, 1) RETURNING id",
          soci::use(static_cast<long long>(tenant.value()), "t"), soci::use(email, "e"),
          soci::use(display, "d"), soci::use(role_name, "r"), soci::into(id);
      return Status::Ok();
    }));
    accounts::Principal p;
    p.tenant = tenant;
    p.user = UserId(id);
    p.role = role;
    return p;
  }

  // Links `p` to Telegram user `tg_user` through the real flow: a token from the API, "/start
  // <token>" through the FAKE Telegram, the bot's welcome.
  bool Link(const accounts::Principal& p, int64_t tg_user,
            const std::string& language_code = "en") {
    auto token = bot_->CreateLinkToken(p, LinkKind::kPrivate);
    if (!token.ok()) {
      ADD_FAILURE() << token.error().ToString();
      return false;
    }
    const size_t before = fake_->SentTo(tg_user).size();
    fake_->InjectText(tg_user, tg_user, "/start " + token->token, "user" + std::to_string(tg_user),
                      language_code);
    auto reply = fake_->WaitForMessage(tg_user, language_code == "id" ? "Terhubung" : "Linked",
                                       std::chrono::seconds(10), before);
    return reply.has_value();
  }

  // Test setup in bulk: users (as CreateUser) and the rows the /start flow and AddAlert write for
  // them (a link and one alert on SYNUSD H1 each), in one transaction. For fan-out tests with many
  // users; the flows themselves are tested with Link() and the API.
  struct BulkUser {
    TenantId tenant;
    std::string email;
    accounts::Role role = accounts::Role::kMember;
    int64_t chat = 0;
  };
  std::vector<accounts::Principal> CreateLinkedUsers(const std::vector<BulkUser>& users,
                                                     double min_confidence,
                                                     const std::string& lang = "en") {
    std::vector<accounts::Principal> out;
    EXPECT_OK(db_.WithTx([&](soci::session& sql) {
      out.clear();
      const long long now = clock_.Now();
      for (const BulkUser& b : users) {
        long long t = b.tenant.value(), c = b.chat, u = 0;
        const std::string role(accounts::RoleName(b.role));
        sql << "INSERT INTO users (tenant_id, email, password_hash, display_name, role, "
               "created_at) VALUES "
               "(:t, :e, 'x', :d, :r, 1) RETURNING id",
            soci::use(t, "t"), soci::use(b.email, "e"), soci::use(b.email, "d"),
            soci::use(role, "r"), soci::into(u);
        sql << "INSERT INTO telegram_links (tenant_id, user_id, telegram_user_id, chat_id, "
               "username, lang, muted, "
               "linked_at) VALUES (:t, :u, :tg, :c, '', :l, 0, :n)",
            soci::use(t, "t"), soci::use(u, "u"), soci::use(c, "tg"), soci::use(c, "c"),
            soci::use(lang, "l"), soci::use(now, "n");
        sql << "INSERT INTO telegram_alerts (tenant_id, user_id, chat_id, symbol, timeframe, "
               "min_confidence, "
               "direction, muted, created_at) VALUES (:t, :u, :c, 'SYNUSD', 'H1', :m, 'any', 0, "
               ":n)",
            soci::use(t, "t"), soci::use(u, "u"), soci::use(c, "c"), soci::use(min_confidence, "m"),
            soci::use(now, "n");
        accounts::Principal p;
        p.tenant = b.tenant;
        p.user = UserId(u);
        p.role = b.role;
        out.push_back(p);
      }
      return Status::Ok();
    }));
    return out;
  }

  // Closes the next held-back bar (as the live feed would) and returns the signal it produced.
  std::shared_ptr<const signals::Signal> CloseNextBar() {
    const market::Bar& bar = all_bars_[imported_];
    EXPECT_OK(bars_
                  ->Import(store::SeriesOwner::Platform(), {"SYNUSD", market::Timeframe::kH1},
                           std::span(all_bars_).subspan(imported_, 1), {})
                  .status());
    ++imported_;
    signals_->OnBarClosed({"SYNUSD", market::Timeframe::kH1}, bar);
    signals_->Drain();
    auto s = signals_->Latest(models::kPlatformTenant, {"SYNUSD", market::Timeframe::kH1},
                              INT64_MAX / 2);
    EXPECT_OK(s.status());
    return s.ok() ? *s : nullptr;
  }

  store::Database& db() { return db_; }
  FakeBotApi& fake() { return *fake_; }
  TelegramBot& bot() { return *bot_; }
  SystemClock& clock() { return clock_; }
  signals::SignalService& signals() { return *signals_; }
  billing::Meter& meter() { return *meter_; }
  billing::Subscriptions& subscriptions() { return *subscriptions_; }
  billing::PlanStore& plans() { return *plans_; }
  backtest::PaperService& paper() { return *paper_; }

 private:
  store::Database& db_;
  SystemClock clock_;
  std::unique_ptr<FakeBotApi> fake_;
  std::unique_ptr<accounts::AccountService> accounts_;
  std::unique_ptr<billing::PlanStore> plans_;
  std::unique_ptr<billing::Subscriptions> subscriptions_;
  std::unique_ptr<billing::Meter> meter_;
  std::unique_ptr<billing::Entitlements> entitlements_;
  std::unique_ptr<billing::MeteredCalls> metered_;
  std::unique_ptr<store::BarStore> bars_;
  std::unique_ptr<models::DbModelRegistry> registry_;
  std::unique_ptr<models::ModelService> models_;
  std::unique_ptr<signals::DbSignalLog> log_;
  std::unique_ptr<signals::IntervalCalibrationStore> calibrations_;
  std::unique_ptr<signals::SignalService> signals_;
  NoPaperSignals paper_signals_;
  std::unique_ptr<backtest::PaperService> paper_;
  std::unique_ptr<TelegramBot> bot_;
  std::vector<market::Bar> all_bars_;
  size_t imported_ = 0;
};

}  // namespace sinyal::notify::testing
