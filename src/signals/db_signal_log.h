// DbSignalLog: the SignalLog of `sinyal serve`, on store::Database (SQLite or PostgreSQL; table
// `signals` of migration 7).
//
// Owners. A signal belongs to the owner of the model that made it: a tenant (its own model;
// tenant scope, PostgreSQL row-level security) or models::kPlatformTenant (TenantId 0) for a
// platform default model. Platform signals are stored ONCE with tenant_id NULL, written and
// resolved in system scope, and readable by every tenant (shared RLS, as model_versions): every
// tenant without its own model is served the same platform signal, so storing it per tenant
// would multiply rows without adding information. The SignalLog methods address exactly one
// owner; ListVisible/GetVisible return what a tenant may see (its own rows and platform rows).
//
// Rows hold Signal::ToJson as `body`, plus the columns queries need (symbol, timeframe, model
// version, bar time). A resolution is attached once (UPDATE ... WHERE resolved = 0).
//
// Thread safety: thread-safe (all state is in the database).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/status.h"
#include "signals/signal.h"
#include "signals/signal_log.h"

namespace sinyal::store {
class Database;
}

namespace sinyal::signals {

// Signal::ToJson back to a Signal (every field). InvalidArgument naming the field otherwise.
[[nodiscard]] Result<Signal> SignalFromJson(const nlohmann::json& j);
nlohmann::json ResolutionToJson(const Resolution& r);
[[nodiscard]] Result<Resolution> ResolutionFromJson(const nlohmann::json& j);

// A stored signal as the API shows it: Signal::ToJson plus "owner" ("platform" | "tenant"),
// "resolved" and "resolution" (null until resolved).
nlohmann::json StoredSignalJson(const StoredSignal& s);

inline constexpr size_t kMaxSignalPage = 500;

// A filter over stored rows, so symbol and timeframe are the stored text ("EURUSD", "H1"), as the
// stream's replay has them; the HTTP edge fills them from market::ParseSymbolText /
// ParseTimeframeText.
struct SignalListQuery {
  std::string symbol;               // empty: any
  std::string timeframe;            // canonical name ("H1"); empty: any
  size_t limit = 100;               // 1..kMaxSignalPage (else InvalidArgument "limit")
  std::optional<UnixNanos> before;  // only signals with bar_time < before (paging)
  // Only signals with bar_time > after, OLDEST first (resuming a stream after a signal). With
  // `after` set the order is ascending; otherwise newest first.
  std::optional<UnixNanos> after;
  bool resolved_only = false;  // only signals with a resolution (the track record)
  int horizon = 0;             // only signals of this horizon (bars); 0: any
};

class DbSignalLog final : public SignalLog {
 public:
  // REQUIRES: db outlives the log and is migrated (version >= 7).
  explicit DbSignalLog(store::Database& db) : db_(db) {}

  Status Append(TenantId owner, const Signal& signal) override;
  Result<StoredSignal> Get(TenantId owner, const std::string& id) const override;
  Result<std::vector<Signal>> Unresolved(TenantId owner,
                                         const market::SeriesKey& series) const override;
  Status Resolve(TenantId owner, const std::string& id, const Resolution& resolution) override;
  Result<std::vector<StoredSignal>> RecentResolved(TenantId owner, const market::SeriesKey& series,
                                                   const std::string& model_version,
                                                   size_t limit) const override;

  // The viewer's own and the platform's signals, newest bar first (ties: newest row first);
  // with query.after, oldest bar first.
  // REQUIRES: viewer is a tenant (not kPlatformTenant) or kPlatformTenant (platform rows only).
  [[nodiscard]] Result<std::vector<StoredSignal>> ListVisible(TenantId viewer,
                                                              const SignalListQuery& query) const;
  // NotFound (field "id") unless the id is the viewer's or a platform signal.
  [[nodiscard]] Result<StoredSignal> GetVisible(TenantId viewer, const std::string& id) const;

 private:
  store::Database& db_;
};

}  // namespace sinyal::signals
