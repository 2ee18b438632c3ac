// Accounts: tenants (organisations), their users and roles, platform operators, passwords,
// JWT access tokens, rotating refresh tokens and API keys.
//
// Security choices (details in docs/security.md):
// - Passwords: argon2id (libsodium crypto_pwhash_str, INTERACTIVE limits: t=2, 64 MiB), at
//   most 4 hashes at once per process so a login flood can't exhaust memory.
// - Access tokens: HS256 JWT, 15 minutes, claims iss aud sub tid role jti iat nbf exp.
//   Verification accepts alg == "HS256" only, typ "JWT" if present, no "crit", a constant-time
//   signature compare, exp/nbf/iat with `leeway_seconds`, exact iss and aud. Stateless: a
//   removed member's access token stays valid until it expires (<= 15 min).
// - Refresh tokens: 32 random bytes (base64url), stored as SHA-256, single use. Refreshing
//   returns a new pair in the same family and marks the old token used; presenting a used
//   token again revokes the whole family (theft detection). Logout revokes the family.
// - API keys: "sk_live_" + 32 random bytes base64url. Stored as SHA-256: the secret has 256 bits
//   of entropy, so a slow password hash would add nothing but latency. Shown once.
//   Authentication is cached in-process by key hash for `api_key_cache_ttl_seconds`;
//   revocation through this process takes effect at once, in other processes within the TTL.
//   Expiry is checked on every call (not cached). last_used_at is written at most once a
//   minute per key.
// - Tenant isolation: every tenant-scoped query runs in Database::WithTenantTx (PostgreSQL RLS)
//   and filters on tenant_id itself. Objects of another tenant are NotFound, never
//   PermissionDenied, so ids of other tenants can't be probed.
//
// Thread safety: AccountService is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::accounts {

enum class Role { kOwner, kAdmin, kMember, kOperator };

// "owner", "admin", "member", "operator".
std::string_view RoleName(Role role);
// Inverse of RoleName. InvalidArgument("role") for anything else.
[[nodiscard]] Result<Role> ParseRole(std::string_view name);

// API key scopes.
inline constexpr std::string_view kScopePredict = "predict";  // prediction endpoints
inline constexpr std::string_view kScopeRead = "read";        // read own account/tenant data
inline constexpr std::string_view kScopeAdmin = "admin";      // manage keys and members
inline constexpr std::string_view kScopeFeed = "feed";  // operator feed keys: push market data
// Scopes a key gets when created without any.
std::vector<std::string> DefaultApiKeyScopes();  // {"predict", "read"}

// Who is calling. Produced only by the Authenticate* functions.
struct Principal {
  TenantId tenant;                  // invalid (0) for operators
  UserId user;                      // the user; for operators, the operator's id
  std::optional<ApiKeyId> api_key;  // set when authenticated by API key
  Role role = Role::kMember;        // for an API key: its creator's role
  std::vector<std::string> scopes;  // for an API key: its scopes; empty for JWT principals
  bool is_operator() const { return role == Role::kOperator; }
  // JWT principals hold every scope (their role decides); API keys hold only theirs.
  bool HasScope(std::string_view scope) const;
};

struct AuthConfig {
  // HMAC key for access tokens. REQUIRES: >= 32 bytes (else the constructor's checks fail:
  // every token operation returns FailedPrecondition and Validate() says why).
  std::string jwt_secret;
  std::string issuer = "sinyal";
  std::string audience = "sinyal-api";
  int64_t access_ttl_seconds = 900;          // Default: 15 minutes.
  int64_t refresh_ttl_seconds = 30 * 86400;  // Default: 30 days (sliding, per rotation).
  int64_t leeway_seconds = 30;               // Clock skew allowed on exp/nbf/iat. [0, 30].
  int64_t api_key_cache_ttl_seconds = 10;    // In-process API key cache. 0 disables it.
  int max_concurrent_password_hashes = 4;    // Each argon2id hash uses 64 MiB.
  // OK, or InvalidArgument naming the bad field ("jwt_secret", "leeway_seconds", ...).
  [[nodiscard]] Status Validate() const;
};

struct TokenPair {
  std::string access_token;
  int64_t expires_in = 0;     // seconds
  std::string refresh_token;  // empty for operators (they re-authenticate)
  UnixNanos refresh_expires_at = 0;
};

struct RegisterRequest {
  std::string tenant_name, email, password, display_name;
};

struct UserInfo {
  UserId id;
  TenantId tenant;
  std::string tenant_name, email, display_name;
  Role role = Role::kMember;
  UnixNanos created_at = 0;
};

struct ApiKeyInfo {
  ApiKeyId id;
  std::string name, prefix;  // prefix: first 12 characters of the key, safe to display
  std::vector<std::string> scopes;
  UnixNanos created_at = 0;
  std::optional<UnixNanos> last_used_at, expires_at, revoked_at;
  UserId created_by;
};

struct CreatedApiKey {
  ApiKeyInfo info;
  std::string secret;  // the full key; shown once, not retrievable later
};

class AccountService {
 public:
  // REQUIRES: db outlives the service and is migrated; config.Validate() is OK (checked: if not,
  // every call returns FailedPrecondition).
  AccountService(store::Database& db, Clock& clock, AuthConfig config);
  ~AccountService();
  AccountService(const AccountService&) = delete;
  AccountService& operator=(const AccountService&) = delete;

  // Creates a tenant and its owner, signs the owner in. Validation errors are InvalidArgument
  // naming the field: tenant_name (1-100 chars), email, password (10-256 bytes),
  // display_name (1-100 chars). Emails are trimmed and lower-cased, unique across the
  // platform: AlreadyExists("email").
  [[nodiscard]] Result<std::pair<UserInfo, TokenPair>> Register(const RegisterRequest& req);

  // Unauthenticated("invalid email or password") for an unknown email and for a wrong
  // password alike, in about the same time (a dummy argon2id verify runs for unknown emails).
  [[nodiscard]] Result<TokenPair> Login(std::string_view email, std::string_view password);

  // Operator sign-in: an access token with role "operator" and no tenant; no refresh token.
  [[nodiscard]] Result<TokenPair> LoginOperator(std::string_view email, std::string_view password);

  // Rotates: returns a new pair and marks `refresh_token` used. Unauthenticated for unknown,
  // malformed, expired or revoked tokens; a token already used revokes its family and
  // returns Unauthenticated.
  [[nodiscard]] Result<TokenPair> Refresh(std::string_view refresh_token);

  // Revokes the token's family. OK if already revoked; Unauthenticated if unknown/malformed.
  [[nodiscard]] Status Logout(std::string_view refresh_token);

  // Verifies a JWT access token (no database access). Unauthenticated on any failure, with
  // a generic message (the precise reason is not told to the client).
  [[nodiscard]] Result<Principal> AuthenticateAccessToken(std::string_view jwt) const;

  // Verifies an API key ("sk_live_..."). Unauthenticated for malformed, unknown, revoked or
  // expired keys. Fast path: in-process cache (see above).
  [[nodiscard]] Result<Principal> AuthenticateApiKey(std::string_view key);

  // The caller's own account. For operators: tenant invalid, tenant_name empty.
  [[nodiscard]] Result<UserInfo> Me(const Principal& p);

  // Any tenant user may create keys for themselves. Scopes must be known (InvalidArgument
  // "scopes"); "admin" needs role owner/admin (PermissionDenied "scopes"); an API-key caller
  // needs scope "admin" and can't grant scopes it lacks. Empty scopes: DefaultApiKeyScopes().
  // name: 1-100 chars ("name"). expires_at must be in the future ("expires_at").
  [[nodiscard]] Result<CreatedApiKey> CreateApiKey(const Principal& p, std::string name,
                                                   std::vector<std::string> scopes,
                                                   std::optional<UnixNanos> expires_at);
  // Owners/admins see every key of the tenant; members see their own. Newest first.
  [[nodiscard]] Result<std::vector<ApiKeyInfo>> ListApiKeys(const Principal& p);
  // NotFound for ids of other tenants (and, for members, other users' keys).
  [[nodiscard]] Result<ApiKeyInfo> GetApiKey(const Principal& p, ApiKeyId id);
  // NotFound as GetApiKey. Revoking a revoked key is OK (idempotent).
  [[nodiscard]] Status RevokeApiKey(const Principal& p, ApiKeyId id);

  // Every user of the caller's tenant, oldest first.
  [[nodiscard]] Result<std::vector<UserInfo>> ListMembers(const Principal& p);
  // Owner/admin only (PermissionDenied); admins can't create owners (PermissionDenied "role").
  // Validation as Register; AlreadyExists("email").
  [[nodiscard]] Result<UserInfo> AddMember(const Principal& p, std::string email,
                                           std::string password, std::string display_name,
                                           Role role);
  // Owner only. FailedPrecondition("role") when it would leave the tenant without an owner.
  [[nodiscard]] Result<UserInfo> UpdateMemberRole(const Principal& p, UserId user, Role role);
  // Owner/admin; admins can't remove owners. FailedPrecondition when removing the last owner.
  // Deletes the user, their refresh tokens and the API keys they created.
  [[nodiscard]] Status RemoveMember(const Principal& p, UserId user);

  // Creates a platform operator (CLI `sinyal admin create-operator`). Validation as Register;
  // AlreadyExists("email") among operators.
  [[nodiscard]] Result<UserInfo> CreateOperator(std::string_view email, std::string_view password);

  // Operator feed keys: "sk_feed_" + 32 random bytes, stored as SHA-256 like tenant keys, with
  // scope "feed" only. They authenticate through AuthenticateApiKey as a Principal with role
  // operator, no tenant, api_key set and scopes {"feed"}. Only an operator signed in with an
  // access token may create, list or revoke them (PermissionDenied otherwise). name: 1-100 chars.
  [[nodiscard]] Result<CreatedApiKey> CreateOperatorKey(const Principal& op, std::string name);
  [[nodiscard]] Result<std::vector<ApiKeyInfo>> ListOperatorKeys(const Principal& op);
  // NotFound for unknown ids; revoking twice is OK. Takes effect at once in this process.
  [[nodiscard]] Status RevokeOperatorKey(const Principal& op, ApiKeyId id);

  // Operators (access token only): tenants, newest first, `limit` (1..500) from `offset`, each with
  // its owner's email and its numbers of users and live (unrevoked) API keys; `total` is the number
  // of tenants. For the operators' dashboard (GET /api/v1/operator/tenants).
  struct TenantSummary {
    TenantId id;
    std::string name;
    UnixNanos created_at = 0;
    std::string owner_email;
    int64_t users = 0, api_keys = 0;
  };
  struct TenantPage {
    std::vector<TenantSummary> items;
    int64_t total = 0;
  };
  [[nodiscard]] Result<TenantPage> ListTenants(const Principal& op, int64_t limit, int64_t offset);

  // Issues an access token for a principal (tests, benchmarks, operator tooling).
  [[nodiscard]] Result<std::string> IssueAccessToken(const Principal& p) const;

  // Drops every cached API key authentication of this process.
  void ClearApiKeyCache();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::accounts
