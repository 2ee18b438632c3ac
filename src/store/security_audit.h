// The security audit trail (issue 16): who signed in or failed to, reused a refresh token,
// created or revoked an API key, added, changed or removed a member, changed the plan, imported
// data. Append-only (table security_audit, migration 80: UPDATE and DELETE refused on both
// backends), tenant-scoped (row-level security on PostgreSQL), read by the tenant's owners and
// admins and by operators (GET /api/v1/audit).
//
// Writers append inside the transaction of the change they record, so the event and the change
// commit together:
//
//   store::AppendSecurityEvent(sql, tenant, {.kind = store::kAuditApiKeyCreated,
//                                            .actor = "user:7", .subject = "api_key:12",
//                                            .data = R"({"name":"backend"})"}, now);
//
// Thread safety: free functions; the session is the caller's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"

namespace soci {
class session;
}

namespace sinyal::store {

class Database;

// Event kinds (stable API strings).
inline constexpr std::string_view kAuditSignIn = "sign_in";  // success
inline constexpr std::string_view kAuditSignInFailed =
    "sign_in_failed";  // known user, wrong password
inline constexpr std::string_view kAuditRefreshReuse =
    "refresh_token_reuse";  // a rotated token came back
inline constexpr std::string_view kAuditApiKeyCreated = "api_key_created";
inline constexpr std::string_view kAuditApiKeyRevoked = "api_key_revoked";
inline constexpr std::string_view kAuditMemberAdded = "member_added";
inline constexpr std::string_view kAuditMemberRoleChanged = "member_role_changed";
inline constexpr std::string_view kAuditMemberRemoved = "member_removed";
inline constexpr std::string_view kAuditPlanChanged = "plan_changed";
inline constexpr std::string_view kAuditDataImported = "data_imported";
// Every kind above (the API validates its `kind` filter against this list).
inline constexpr std::array<std::string_view, 10> kAuditKinds = {
    kAuditSignIn,        kAuditSignInFailed, kAuditRefreshReuse,      kAuditApiKeyCreated,
    kAuditApiKeyRevoked, kAuditMemberAdded,  kAuditMemberRoleChanged, kAuditMemberRemoved,
    kAuditPlanChanged,   kAuditDataImported};

struct SecurityEvent {
  int64_t id = 0;     // set when read
  std::string kind;   // one of the kinds above
  std::string actor;  // "user:<id>", "operator:<id>", "api_key:<id>", "system" or "cli"
  std::string
      subject;  // what it is about: "user:<id>", "api_key:<id>", "plan:pro", "series:EURUSD/H1"
  std::string data = "{}";  // a JSON object, no secrets (never a password, token or key)
  UnixNanos at = 0;         // set when read
  TenantId tenant;          // set when read
};

// Appends `event` for `tenant` at `now` in the caller's transaction (tenant or system scope).
// REQUIRES: tenant.valid(); event.kind not empty; event.data a JSON object text.
void AppendSecurityEvent(soci::session& tx, TenantId tenant, const SecurityEvent& event,
                         UnixNanos now);

struct SecurityEventQuery {
  std::optional<TenantId> tenant;    // set: that tenant's rows, read in its scope; unset: every row
  std::optional<int64_t> before_id;  // page: rows with id < before_id
  std::string kind;                  // non-empty: only this kind
  size_t limit = 100;                // 1..500
};

// Newest first.
[[nodiscard]] Result<std::vector<SecurityEvent>> ListSecurityEvents(Database& db,
                                                                    const SecurityEventQuery& q);

}  // namespace sinyal::store
