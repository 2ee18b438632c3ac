#include "app/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "billing/rate_limiter.h"

extern char** environ;

namespace sinyal::app {
namespace {

struct Key {
  std::string name;  // "server.port"
  enum Kind { kString, kInt, kBool } kind;
  std::function<void(Config&, const std::string&, int64_t, bool)> set;
  int64_t min = 0, max = 0;
};

const std::vector<Key>& Keys() {
  static const std::vector<Key> keys = [] {
    std::vector<Key> k;
    auto S = [&](std::string n, std::function<std::string&(Config&)> f) {
      k.push_back({std::move(n), Key::kString,
                   [f](Config& c, const std::string& v, int64_t, bool) { f(c) = v; }});
    };
    auto I = [&](std::string n, std::function<int64_t&(Config&)> f, int64_t lo, int64_t hi) {
      k.push_back({std::move(n), Key::kInt,
                   [f](Config& c, const std::string&, int64_t v, bool) { f(c) = v; }, lo, hi});
    };
    auto B = [&](std::string n, std::function<bool&(Config&)> f) {
      k.push_back({std::move(n), Key::kBool,
                   [f](Config& c, const std::string&, int64_t, bool v) { f(c) = v; }});
    };
    S("server.host", [](Config& c) -> std::string& { return c.server.host; });
    I(
        "server.port", [](Config& c) -> int64_t& { return c.server.port; }, 1, 65535);
    I(
        "server.io_threads", [](Config& c) -> int64_t& { return c.server.io_threads; }, 1, 64);
    I(
        "server.accept_concurrency",
        [](Config& c) -> int64_t& { return c.server.accept_concurrency; }, 1, 1024);
    I(
        "server.blocking_threads", [](Config& c) -> int64_t& { return c.server.blocking_threads; },
        1, 256);
    I(
        "server.max_body_bytes", [](Config& c) -> int64_t& { return c.server.max_body_bytes; },
        1024, 64 << 20);
    I(
        "server.shutdown_grace_ms",
        [](Config& c) -> int64_t& { return c.server.shutdown_grace_ms; }, 0, 600000);
    S("server.docs_assets_dir", [](Config& c) -> std::string& { return c.server.docs_assets_dir; });
    S("server.web_dir", [](Config& c) -> std::string& { return c.server.web_dir; });
    S("server.data_dir", [](Config& c) -> std::string& { return c.server.data_dir; });
    B("first_run.enabled", [](Config& c) -> bool& { return c.first_run.enabled; });
    S("first_run.sample_dir", [](Config& c) -> std::string& { return c.first_run.sample_dir; });
    I(
        "first_run.replay_bars", [](Config& c) -> int64_t& { return c.first_run.replay_bars; }, 0,
        5000);
    S("first_run.horizons", [](Config& c) -> std::string& { return c.first_run.horizons; });
    S("database.url", [](Config& c) -> std::string& { return c.database.url; });
    I(
        "database.pool_size", [](Config& c) -> int64_t& { return c.database.pool_size; }, 1, 256);
    S("auth.jwt_secret", [](Config& c) -> std::string& { return c.auth.jwt_secret; });
    S("auth.issuer", [](Config& c) -> std::string& { return c.auth.issuer; });
    S("auth.audience", [](Config& c) -> std::string& { return c.auth.audience; });
    I(
        "auth.access_ttl_seconds", [](Config& c) -> int64_t& { return c.auth.access_ttl_seconds; },
        60, 86400);
    I(
        "auth.refresh_ttl_seconds",
        [](Config& c) -> int64_t& { return c.auth.refresh_ttl_seconds; }, 3600, 31536000);
    I(
        "auth.api_key_cache_ttl_seconds",
        [](Config& c) -> int64_t& { return c.auth.api_key_cache_ttl_seconds; }, 0, 300);
    S("log.level", [](Config& c) -> std::string& { return c.log.level; });
    B("log.access_log", [](Config& c) -> bool& { return c.log.access_log; });
    S("redis.url", [](Config& c) -> std::string& { return c.redis.url; });
    B("worker.in_process", [](Config& c) -> bool& { return c.worker.in_process; });
    B("trading.allow_private_webhooks",
      [](Config& c) -> bool& { return c.trading.allow_private_webhooks; });
    I(
        "worker.poll_interval_ms", [](Config& c) -> int64_t& { return c.worker.poll_interval_ms; },
        10, 60000);
    I(
        "worker.lease_seconds", [](Config& c) -> int64_t& { return c.worker.lease_seconds; }, 5,
        3600);
    I(
        "worker.xgboost_threads", [](Config& c) -> int64_t& { return c.worker.xgboost_threads; }, 1,
        64);
    I(
        "worker.retrain_check_seconds",
        [](Config& c) -> int64_t& { return c.worker.retrain_check_seconds; }, 0, 604800);
    I(
        "worker.retrain_window_bars",
        [](Config& c) -> int64_t& { return c.worker.retrain_window_bars; }, 500, 300000);
    I(
        "worker.retrain_cooldown_bars",
        [](Config& c) -> int64_t& { return c.worker.retrain_cooldown_bars; }, 0, 1000000);
    I(
        "worker.retrain_cooldown_seconds",
        [](Config& c) -> int64_t& { return c.worker.retrain_cooldown_seconds; }, 0, 31536000);
    I(
        "worker.drift_window_rows",
        [](Config& c) -> int64_t& { return c.worker.drift_window_rows; }, 100, 100000);
    I(
        "worker.drift_min_features",
        [](Config& c) -> int64_t& { return c.worker.drift_min_features; }, 1, 100);
    I(
        "billing.idempotency_retention_hours",
        [](Config& c) -> int64_t& { return c.billing.idempotency_retention_hours; }, 1, 8760);
    S("telegram.bot_token", [](Config& c) -> std::string& { return c.telegram.bot_token; });
    S("telegram.bot_username", [](Config& c) -> std::string& { return c.telegram.bot_username; });
    S("telegram.api_url", [](Config& c) -> std::string& { return c.telegram.api_url; });
    S("telegram.mode", [](Config& c) -> std::string& { return c.telegram.mode; });
    S("telegram.webhook_url", [](Config& c) -> std::string& { return c.telegram.webhook_url; });
    S("telegram.webhook_secret",
      [](Config& c) -> std::string& { return c.telegram.webhook_secret; });
    I(
        "telegram.poll_timeout_seconds",
        [](Config& c) -> int64_t& { return c.telegram.poll_timeout_seconds; }, 0, 50);
    I(
        "telegram.link_token_ttl_seconds",
        [](Config& c) -> int64_t& { return c.telegram.link_token_ttl_seconds; }, 60, 86400);
    I(
        "telegram.global_per_second",
        [](Config& c) -> int64_t& { return c.telegram.global_per_second; }, 1, 100000);
    I(
        "telegram.per_chat_interval_ms",
        [](Config& c) -> int64_t& { return c.telegram.per_chat_interval_ms; }, 0, 60000);
    I(
        "telegram.group_per_minute",
        [](Config& c) -> int64_t& { return c.telegram.group_per_minute; }, 1, 1000);
    I(
        "telegram.group_window_ms",
        [](Config& c) -> int64_t& { return c.telegram.group_window_ms; }, 1, 3600000);
    I(
        "telegram.sender_threads", [](Config& c) -> int64_t& { return c.telegram.sender_threads; },
        1, 64);
    S("telegram.chart_url", [](Config& c) -> std::string& { return c.telegram.chart_url; });
    I(
        "telegram.quota_check_seconds",
        [](Config& c) -> int64_t& { return c.telegram.quota_check_seconds; }, 0, 86400);
    S("midtrans.server_key", [](Config& c) -> std::string& { return c.midtrans.server_key; });
    S("midtrans.client_key", [](Config& c) -> std::string& { return c.midtrans.client_key; });
    S("midtrans.environment", [](Config& c) -> std::string& { return c.midtrans.environment; });
    S("midtrans.snap_base_url", [](Config& c) -> std::string& { return c.midtrans.snap_base_url; });
    S("midtrans.core_base_url", [](Config& c) -> std::string& { return c.midtrans.core_base_url; });
    S("midtrans.enabled_payments",
      [](Config& c) -> std::string& { return c.midtrans.enabled_payments; });
    S("midtrans.finish_url", [](Config& c) -> std::string& { return c.midtrans.finish_url; });
    I(
        "midtrans.timeout_ms", [](Config& c) -> int64_t& { return c.midtrans.timeout_ms; }, 100,
        15000);
    I(
        "payments.renewal_notice_days",
        [](Config& c) -> int64_t& { return c.payments.renewal_notice_days; }, 0, 60);
    I(
        "payments.grace_days", [](Config& c) -> int64_t& { return c.payments.grace_days; }, 0, 60);
    I(
        "payments.order_expiry_minutes",
        [](Config& c) -> int64_t& { return c.payments.order_expiry_minutes; }, 5, 43200);
    I(
        "payments.reconcile_interval_seconds",
        [](Config& c) -> int64_t& { return c.payments.reconcile_interval_seconds; }, 5, 3600);
    I(
        "payments.reconcile_after_seconds",
        [](Config& c) -> int64_t& { return c.payments.reconcile_after_seconds; }, 10, 86400);
    I(
        "payments.sandbox_retry_scale_permille",
        [](Config& c) -> int64_t& { return c.payments.sandbox_retry_scale_permille; }, 1, 1000);
    I(
        "signals.bar_check_interval_ms",
        [](Config& c) -> int64_t& { return c.signals.bar_check_interval_ms; }, 0, 60000);
    I(
        "models.report_folds", [](Config& c) -> int64_t& { return c.models.report_folds; }, 1, 20);
    return k;
  }();
  return keys;
}

const Key* FindKey(std::string_view name) {
  for (const Key& k : Keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

Status SetTyped(const Key& key, const std::string& text, Config& config) {
  switch (key.kind) {
    case Key::kString:
      key.set(config, text, 0, false);
      return Status::Ok();
    case Key::kInt: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty())
        return Status::InvalidArgument("must be an integer, got '" + text.substr(0, 32) + "'",
                                       key.name);
      if (v < key.min || v > key.max)
        return Status::InvalidArgument(
            "must be between " + std::to_string(key.min) + " and " + std::to_string(key.max),
            key.name);
      key.set(config, "", v, false);
      return Status::Ok();
    }
    case Key::kBool:
      if (text == "true" || text == "1" || text == "yes")
        key.set(config, "", 0, true);
      else if (text == "false" || text == "0" || text == "no")
        key.set(config, "", 0, false);
      else
        return Status::InvalidArgument("must be true or false", key.name);
      return Status::Ok();
  }
  return Status::Internal("unreachable");
}

}  // namespace

Status SetKey(const std::string& dotted, const std::string& value, Config& config) {
  const Key* key = FindKey(dotted);
  if (key == nullptr) return Status::InvalidArgument("unknown configuration key", dotted);
  return SetTyped(*key, value, config);
}

Status ApplyToml(std::string_view text, std::string_view source_name, Config& config) {
  toml::table root;
  try {
    // Debian's toml++ is built with exceptions on: parse errors throw.
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& err) {
    return Status::InvalidArgument(std::string(source_name) + ": " + std::string(err.description()),
                                   "line " + std::to_string(err.source().begin.line));
  }
  for (auto&& [section, node] : root) {
    std::string section_name(section.str());
    const toml::table* table = node.as_table();
    if (table == nullptr)
      return Status::InvalidArgument("top-level keys must be tables like [server]", section_name);
    for (auto&& [k, v] : *table) {
      std::string dotted = section_name + "." + std::string(k.str());
      const Key* key = FindKey(dotted);
      if (key == nullptr) return Status::InvalidArgument("unknown configuration key", dotted);
      std::string text;
      if (key->kind == Key::kString) {
        if (!v.is_string()) return Status::InvalidArgument("must be a string", dotted);
        text = *v.value<std::string>();
      } else if (key->kind == Key::kInt) {
        if (!v.is_integer()) return Status::InvalidArgument("must be an integer", dotted);
        text = std::to_string(*v.value<int64_t>());
      } else {
        if (!v.is_boolean()) return Status::InvalidArgument("must be true or false", dotted);
        text = *v.value<bool>() ? "true" : "false";
      }
      SINYAL_RETURN_IF_ERROR(SetTyped(*key, text, config));
    }
  }
  return Status::Ok();
}

Status ApplyTomlFile(const std::string& path, Config& config) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read config file " + path, "config");
  std::stringstream ss;
  ss << in.rdbuf();
  return ApplyToml(ss.str(), path, config);
}

Status ApplyEnv(const std::map<std::string, std::string>& env, Config& config) {
  for (const Key& key : Keys()) {
    std::string name = "SINYAL_";
    for (char c : key.name) name += c == '.' ? '_' : static_cast<char>(std::toupper(c));
    auto it = env.find(name);
    if (it == env.end()) continue;
    Status s = SetTyped(key, it->second, config);
    if (!s.ok()) return Status::InvalidArgument(s.message(), name);
  }
  return Status::Ok();
}

Status Finalize(Config& config) {
  if (config.database.url.empty())
    config.database.url = "sqlite://" + config.server.data_dir + "/sinyal.db";
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool ok = false;
  for (const char* l : kLevels) ok = ok || config.log.level == l;
  if (!ok)
    return Status::InvalidArgument("must be one of trace, debug, info, warn, error, critical, off",
                                   "log.level");
  if (config.database.url.rfind("sqlite:", 0) != 0 &&
      config.database.url.rfind("postgresql://", 0) != 0 &&
      config.database.url.rfind("postgres://", 0) != 0)
    return Status::InvalidArgument("must start with sqlite: or postgresql://", "database.url");
  if (!config.redis.url.empty()) SINYAL_RETURN_IF_ERROR(billing::ParseRedisUrl(config.redis.url));
  if (config.worker.drift_window_rows * 2 > config.worker.retrain_window_bars)
    return Status::InvalidArgument(
        "must be at most half of worker.retrain_window_bars (" +
            std::to_string(config.worker.retrain_window_bars) +
            "): the per-feature drift thresholds are fitted on 2 or more windows of training rows",
        "worker.drift_window_rows");
  if (config.telegram.mode != "polling" && config.telegram.mode != "webhook")
    return Status::InvalidArgument("must be polling or webhook", "telegram.mode");
  if (config.midtrans.environment != "sandbox" && config.midtrans.environment != "production")
    return Status::InvalidArgument("must be sandbox or production", "midtrans.environment");
  if (config.midtrans.environment == "production" && config.midtrans.server_key.empty())
    return Status::InvalidArgument("production needs midtrans.server_key", "midtrans.server_key");
  for (const std::string* url : {&config.midtrans.snap_base_url, &config.midtrans.core_base_url}) {
    if (!url->empty() && url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0)
      return Status::InvalidArgument("must be an http(s) URL", url == &config.midtrans.snap_base_url
                                                                   ? "midtrans.snap_base_url"
                                                                   : "midtrans.core_base_url");
  }
  if (!config.auth.jwt_secret.empty() && config.auth.jwt_secret.size() < 32)
    return Status::InvalidArgument("must be at least 32 bytes", "auth.jwt_secret");
  return Status::Ok();
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (kv.rfind("SINYAL_", 0) != 0) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace sinyal::app
