#include "accounts/accounts.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <semaphore>
#include <shared_mutex>
#include <unordered_map>

#include "accounts/crypto.h"
#include "accounts/jwt.h"
#include "core/log.h"
#include "store/database.h"
#include "store/security_audit.h"
#include "store/soci.h"  // first: configures SOCI
#include "store/soci_row.h"

namespace sinyal::accounts {

namespace {

constexpr std::string_view kApiKeyPrefix = "sk_live_";
constexpr std::string_view kFeedKeyPrefix = "sk_feed_";  // operator feed keys (operator_keys)
constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretB64Len = 43;  // base64url of 32 bytes, no padding
constexpr size_t kApiKeyDisplayPrefix = 12;
constexpr int64_t kLastUsedWriteIntervalNs = 60 * kNanosPerSecond;
constexpr std::string_view kBadCredentials = "invalid email or password";

int64_t ToSeconds(UnixNanos t) { return t / kNanosPerSecond; }

// ---- validation ---------------------------------------------------------------------------

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Number of code points if `s` is valid UTF-8 without control characters; nullopt otherwise.
std::optional<size_t> CountPrintableUtf8(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates, out of range.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) return std::nullopt;
    i += len;
    ++count;
  }
  return count;
}

Result<std::string> ValidateName(std::string_view raw, const std::string& field) {
  std::string_view s = TrimAscii(raw);
  if (s.empty()) return Status::InvalidArgument(field + " must not be empty", field);
  auto n = CountPrintableUtf8(s);
  if (!n) {
    return Status::InvalidArgument(field + " must be UTF-8 text without control characters", field);
  }
  if (*n > 100) return Status::InvalidArgument(field + " must be at most 100 characters", field);
  return std::string(s);
}

Result<std::string> NormalizeEmail(std::string_view raw) {
  std::string_view s = TrimAscii(raw);
  const Status bad = Status::InvalidArgument("email must look like name@example.com", "email");
  if (s.size() < 3 || s.size() > 254) return bad;
  const size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || s.find('@', at + 1) != s.npos) {
    return bad;
  }
  const std::string_view domain = s.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == domain.npos || domain.front() == '.' ||
      domain.back() == '.' || domain.front() == '-' || domain.find("..") != domain.npos) {
    return bad;
  }
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return bad;
    }
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  if (!CountPrintableUtf8(out)) return bad;
  return out;
}

Status ValidatePassword(std::string_view password) {
  if (password.size() < 10) {
    return Status::InvalidArgument("password must be at least 10 characters", "password");
  }
  if (password.size() > 256) {
    return Status::InvalidArgument("password must be at most 256 bytes", "password");
  }
  return Status::Ok();
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// A refresh token or the secret part of an API key: 43 base64url characters.
bool LooksLikeSecret(std::string_view s) {
  return s.size() == kSecretB64Len && std::all_of(s.begin(), s.end(), IsBase64UrlChar);
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::vector<std::string> SplitScopes(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsKnownScope(std::string_view s) {
  return s == kScopePredict || s == kScopeRead || s == kScopeAdmin;
}

std::optional<UnixNanos> FromNullable(long long v, soci::indicator ind) {
  if (ind == soci::i_null) return std::nullopt;
  return static_cast<UnixNanos>(v);
}

// Rows as read from the database.
struct UserRow {
  long long id = 0, tenant_id = 0, created_at = 0;
  std::string tenant_name, email, display_name, role;
};

// The security audit trail (store/security_audit.h): who did it, written in the change's own
// transaction.
std::string ActorOf(const Principal& p) {
  if (p.role == Role::kOperator) return "operator:" + std::to_string(p.user.value());
  if (p.api_key) return "api_key:" + std::to_string(p.api_key->value());
  return "user:" + std::to_string(p.user.value());
}
void Audit(soci::session& sql, TenantId tenant, std::string_view kind, std::string actor,
           std::string subject, const nlohmann::json& data, UnixNanos now) {
  store::AppendSecurityEvent(sql, tenant,
                             {.kind = std::string(kind),
                              .actor = std::move(actor),
                              .subject = std::move(subject),
                              .data = data.is_object() ? data.dump() : "{}"},
                             now);
}
std::string UserSubject(long long id) { return "user:" + std::to_string(id); }

constexpr const char* kSelectUser =
    "SELECT u.id, u.tenant_id, t.name, u.email, u.display_name, u.role, u.created_at "
    "FROM users u JOIN tenants t ON t.id = u.tenant_id ";

// Runs a prepared user query; returns false when no row.
bool FetchUser(soci::session& sql, const std::string& where, long long tenant, long long user,
               UserRow* row) {
  soci::statement st =
      (sql.prepare << std::string(kSelectUser) + where, soci::use(tenant, "t"),
       soci::use(user, "u"), soci::into(row->id), soci::into(row->tenant_id),
       soci::into(row->tenant_name), soci::into(row->email), soci::into(row->display_name),
       soci::into(row->role), soci::into(row->created_at));
  st.execute();
  return st.fetch();
}

Result<UserInfo> ToUserInfo(const UserRow& r) {
  SINYAL_ASSIGN_OR_RETURN(Role role, ParseRole(r.role));
  UserInfo u;
  u.id = UserId(r.id);
  u.tenant = TenantId(r.tenant_id);
  u.tenant_name = r.tenant_name;
  u.email = r.email;
  u.display_name = r.display_name;
  u.role = role;
  u.created_at = r.created_at;
  return u;
}

struct ApiKeyRow {
  long long id = 0, user_id = 0, created_at = 0, last_used = 0, expires = 0, revoked = 0;
  soci::indicator last_used_ind = soci::i_null, expires_ind = soci::i_null,
                  revoked_ind = soci::i_null;
  std::string name, prefix, scopes;
};

ApiKeyInfo ToApiKeyInfo(const ApiKeyRow& r) {
  ApiKeyInfo k;
  k.id = ApiKeyId(r.id);
  k.name = r.name;
  k.prefix = r.prefix;
  k.scopes = SplitScopes(r.scopes);
  k.created_at = r.created_at;
  k.last_used_at = FromNullable(r.last_used, r.last_used_ind);
  k.expires_at = FromNullable(r.expires, r.expires_ind);
  k.revoked_at = FromNullable(r.revoked, r.revoked_ind);
  k.created_by = UserId(r.user_id);
  return k;
}

Status ReturnStatus(Status db_status, Status outcome) {
  if (!db_status.ok()) return db_status;
  return outcome;
}

}  // namespace

// ---- small public functions ---------------------------------------------------------------

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kAdmin:
      return "admin";
    case Role::kMember:
      return "member";
    case Role::kOperator:
      return "operator";
  }
  return "member";
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "owner") return Role::kOwner;
  if (name == "admin") return Role::kAdmin;
  if (name == "member") return Role::kMember;
  if (name == "operator") return Role::kOperator;
  return Status::InvalidArgument("role must be one of owner, admin, member", "role");
}

std::vector<std::string> DefaultApiKeyScopes() {
  return {std::string(kScopePredict), std::string(kScopeRead)};
}

bool Principal::HasScope(std::string_view scope) const {
  if (!api_key) return true;
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

Status AuthConfig::Validate() const {
  if (jwt_secret.size() < 32) {
    return Status::InvalidArgument("jwt_secret must be at least 32 bytes", "jwt_secret");
  }
  if (issuer.empty()) return Status::InvalidArgument("issuer must not be empty", "issuer");
  if (audience.empty()) return Status::InvalidArgument("audience must not be empty", "audience");
  if (access_ttl_seconds < 60 || access_ttl_seconds > 3600) {
    return Status::InvalidArgument("access_ttl_seconds must be in [60, 3600]",
                                   "access_ttl_seconds");
  }
  if (refresh_ttl_seconds < 3600 || refresh_ttl_seconds > 365 * 86400) {
    return Status::InvalidArgument("refresh_ttl_seconds must be in [3600, 31536000]",
                                   "refresh_ttl_seconds");
  }
  if (leeway_seconds < 0 || leeway_seconds > 30) {
    return Status::InvalidArgument("leeway_seconds must be in [0, 30]", "leeway_seconds");
  }
  if (api_key_cache_ttl_seconds < 0 || api_key_cache_ttl_seconds > 300) {
    return Status::InvalidArgument("api_key_cache_ttl_seconds must be in [0, 300]",
                                   "api_key_cache_ttl_seconds");
  }
  if (max_concurrent_password_hashes < 1 || max_concurrent_password_hashes > 64) {
    return Status::InvalidArgument("max_concurrent_password_hashes must be in [1, 64]",
                                   "max_concurrent_password_hashes");
  }
  return Status::Ok();
}

// ---- the service --------------------------------------------------------------------------

struct CachedKey {
  Principal principal;
  bool operator_key = false;  // row in operator_keys rather than api_keys
  std::optional<UnixNanos> expires_at;
  UnixNanos cached_at = 0;
  std::atomic<UnixNanos> last_used_written{0};
};

struct AccountService::Impl {
  Impl(store::Database& d, Clock& c, AuthConfig cfg)
      : db(d),
        clock(c),
        config(std::move(cfg)),
        hash_slots(std::clamp(config.max_concurrent_password_hashes, 1, 64)) {}

  store::Database& db;
  Clock& clock;
  AuthConfig config;
  Status config_status;
  std::counting_semaphore<64> hash_slots;

  mutable std::shared_mutex cache_mu;
  std::unordered_map<std::string, std::shared_ptr<CachedKey>> cache;  // GUARDED_BY(cache_mu)

  // ---- passwords (bounded concurrency: 64 MiB each) ----
  Result<std::string> Hash(std::string_view password) {
    hash_slots.acquire();
    auto r = crypto::HashPassword(password);
    hash_slots.release();
    return r;
  }
  bool Verify(std::string_view hash, std::string_view password) {
    hash_slots.acquire();
    const bool ok = crypto::VerifyPassword(hash, password);
    hash_slots.release();
    return ok;
  }
  // A real argon2id hash of a random password, verified against when the email is unknown so
  // that both failures cost the same.
  static const std::string& DummyHash() {
    static const std::string hash = [] {
      auto h = crypto::HashPassword(crypto::Base64UrlEncode(crypto::RandomBytes(24)));
      return h.ok() ? *h : std::string("$argon2id$v=19$m=65536,t=2,p=1$invalid");
    }();
    return hash;
  }

  // ---- tokens ----
  std::string AccessToken(TenantId tenant, UserId user, Role role) const {
    const int64_t now = ToSeconds(clock.Now());
    nlohmann::json claims = {
        {"iss", config.issuer},
        {"aud", config.audience},
        {"sub", std::to_string(user.value())},
        {"role", std::string(RoleName(role))},
        {"jti", crypto::Base64UrlEncode(crypto::RandomBytes(16))},
        {"iat", now},
        {"nbf", now},
        {"exp", now + config.access_ttl_seconds},
    };
    if (role != Role::kOperator) claims["tid"] = tenant.value();
    return jwt::SignHs256(claims, config.jwt_secret);
  }

  struct NewRefresh {
    std::string token, hash;
    UnixNanos expires_at;
  };
  NewRefresh MakeRefresh() const {
    NewRefresh r;
    r.token = crypto::Base64UrlEncode(crypto::RandomBytes(kSecretBytes));
    r.hash = crypto::Sha256Hex(r.token);
    r.expires_at = clock.Now() + config.refresh_ttl_seconds * kNanosPerSecond;
    return r;
  }

  // REQUIRES: inside a tenant-scoped transaction of `tenant`.
  void InsertRefresh(soci::session& sql, TenantId tenant, UserId user, const std::string& family,
                     const NewRefresh& r) {
    long long t = tenant.value(), u = user.value(), now = clock.Now(), exp = r.expires_at;
    sql << "INSERT INTO refresh_tokens(tenant_id, user_id, family, token_hash, created_at, "
           "expires_at) VALUES (:t, :u, :f, :h, :c, :e)",
        soci::use(t), soci::use(u), soci::use(family), soci::use(r.hash), soci::use(now),
        soci::use(exp);
  }

  TokenPair Pair(TenantId tenant, UserId user, Role role, const NewRefresh& r) const {
    TokenPair p;
    p.access_token = AccessToken(tenant, user, role);
    p.expires_in = config.access_ttl_seconds;
    p.refresh_token = r.token;
    p.refresh_expires_at = r.expires_at;
    return p;
  }

  // Finds the tenant of a refresh token by hash (system scope: the tenant isn't known yet).
  Result<TenantId> RefreshTenant(const std::string& hash) {
    long long tenant = 0;
    bool found = false;
    SINYAL_RETURN_IF_ERROR(db.WithReadTx([&](soci::session& sql) {
      sql << "SELECT tenant_id FROM refresh_tokens WHERE token_hash = :h", soci::use(hash),
          soci::into(tenant);
      found = sql.got_data();
      return Status::Ok();
    }));
    if (!found) return Status::Unauthenticated("invalid refresh token");
    return TenantId(tenant);
  }

  // ---- API key cache ----
  void InvalidateKeys(const std::function<bool(const CachedKey&)>& pred) {
    std::unique_lock lock(cache_mu);
    for (auto it = cache.begin(); it != cache.end();) {
      if (pred(*it->second)) {
        it = cache.erase(it);
      } else {
        ++it;
      }
    }
  }

  void MaybeTouchLastUsed(CachedKey& entry, UnixNanos now) {
    UnixNanos prev = entry.last_used_written.load(std::memory_order_relaxed);
    if (now - prev < kLastUsedWriteIntervalNs) return;
    if (!entry.last_used_written.compare_exchange_strong(prev, now)) return;  // another thread
    long long t = entry.principal.tenant.value(), id = entry.principal.api_key->value(), n = now;
    if (entry.operator_key) {
      Status st = db.WithTx([&](soci::session& sql) {
        sql << "UPDATE operator_keys SET last_used_at = :n WHERE id = :id", soci::use(n),
            soci::use(id);
        return Status::Ok();
      });
      if (!st.ok())
        LogEvent(spdlog::level::warn, "api_key_last_used_failed", {{"error", st.ToString()}});
      return;
    }
    Status st = db.WithTenantTx(entry.principal.tenant, [&](soci::session& sql) {
      sql << "UPDATE api_keys SET last_used_at = :n WHERE tenant_id = :t AND id = :id",
          soci::use(n), soci::use(t), soci::use(id);
      return Status::Ok();
    });
    if (!st.ok()) {
      LogEvent(spdlog::level::warn, "api_key_last_used_failed", {{"error", st.ToString()}});
    }
  }

  // ---- authorization helpers ----
  static Status RequireTenantUser(const Principal& p) {
    if (p.is_operator() || !p.tenant.valid() || !p.user.valid()) {
      return Status::PermissionDenied("this operation needs a tenant user");
    }
    return Status::Ok();
  }
  static Status RequireScope(const Principal& p, std::string_view scope) {
    SINYAL_RETURN_IF_ERROR(RequireTenantUser(p));
    if (!p.HasScope(scope)) {
      return Status::PermissionDenied("API key lacks scope '" + std::string(scope) + "'");
    }
    return Status::Ok();
  }
  static bool IsManager(const Principal& p) {
    return p.role == Role::kOwner || p.role == Role::kAdmin;
  }

  // Locks the tenant row (PostgreSQL) so owner-count checks can't race; SQLite transactions
  // are already serialized.
  void LockTenant(soci::session& sql, TenantId tenant) {
    if (db.dialect() != store::Dialect::kPostgres) return;
    long long t = tenant.value(), got = 0;
    sql << "SELECT id FROM tenants WHERE id = :t FOR UPDATE", soci::use(t), soci::into(got);
  }
  int CountOwners(soci::session& sql, TenantId tenant) {
    long long t = tenant.value();
    int n = 0;
    sql << "SELECT COUNT(*) FROM users WHERE tenant_id = :t AND role = 'owner'", soci::use(t),
        soci::into(n);
    return n;
  }

  Result<ApiKeyRow> FetchKey(soci::session& sql, const Principal& p, ApiKeyId id) {
    ApiKeyRow r;
    long long t = p.tenant.value(), kid = id.value(), u = p.user.value();
    // Members see only their own keys; the filter makes others' keys NotFound.
    const long long only_user = IsManager(p) ? 0 : u;
    sql << "SELECT id, user_id, name, prefix, scopes, created_at, last_used_at, expires_at, "
           "revoked_at FROM api_keys WHERE tenant_id = :t AND id = :id AND (:ou = 0 OR user_id "
           "= :ou2)",
        soci::use(t), soci::use(kid), soci::use(only_user), soci::use(only_user), soci::into(r.id),
        soci::into(r.user_id), soci::into(r.name), soci::into(r.prefix), soci::into(r.scopes),
        soci::into(r.created_at), soci::into(r.last_used, r.last_used_ind),
        soci::into(r.expires, r.expires_ind), soci::into(r.revoked, r.revoked_ind);
    if (!sql.got_data()) return Status::NotFound("no such API key", "id");
    return r;
  }
};

AccountService::AccountService(store::Database& db, Clock& clock, AuthConfig config)
    : impl_(std::make_unique<Impl>(db, clock, std::move(config))) {
  impl_->config_status = impl_->config.Validate();
  if (impl_->config_status.ok() && !crypto::InitCrypto()) {
    impl_->config_status = Status::Internal("libsodium could not be initialized");
  }
  if (!impl_->config_status.ok()) {
    LogEvent(spdlog::level::err, "auth_config_invalid",
             {{"error", impl_->config_status.ToString()}});
    impl_->config_status = Status::FailedPrecondition("authentication is misconfigured: " +
                                                      impl_->config_status.message());
  } else {
    (void)Impl::DummyHash();  // pay the one-off hash now, not on the first unknown login
  }
}

AccountService::~AccountService() = default;

#define SINYAL_CHECK_CONFIG() \
  if (!impl_->config_status.ok()) return impl_->config_status

Result<std::pair<UserInfo, TokenPair>> AccountService::Register(const RegisterRequest& req) {
  SINYAL_CHECK_CONFIG();
  SINYAL_ASSIGN_OR_RETURN(std::string tenant_name, ValidateName(req.tenant_name, "tenant_name"));
  SINYAL_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(req.email));
  SINYAL_RETURN_IF_ERROR(ValidatePassword(req.password));
  SINYAL_ASSIGN_OR_RETURN(std::string display_name, ValidateName(req.display_name, "display_name"));

  // Cheap duplicate check before paying for argon2id; the unique index decides races.
  bool taken = false;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
    int n = 0;
    sql << "SELECT COUNT(*) FROM users WHERE email = :e", soci::use(email), soci::into(n);
    taken = n > 0;
    return Status::Ok();
  }));
  if (taken) return Status::AlreadyExists("email is already registered", "email");

  SINYAL_ASSIGN_OR_RETURN(std::string hash, impl_->Hash(req.password));
  const auto refresh = impl_->MakeRefresh();
  const std::string family = crypto::Base64UrlEncode(crypto::RandomBytes(16));
  const long long now = impl_->clock.Now();
  UserInfo info;
  Status st = impl_->db.WithTx([&](soci::session& sql) -> Status {
    long long tenant_id = 0, user_id = 0;
    sql << "INSERT INTO tenants(name, created_at) VALUES (:n, :c) RETURNING id",
        soci::use(tenant_name), soci::use(now), soci::into(tenant_id);
    // Everything after the tenant exists runs in its scope (RLS on PostgreSQL).
    SINYAL_RETURN_IF_ERROR(impl_->db.EnterTenantScope(sql, TenantId(tenant_id)));
    try {
      sql << "INSERT INTO users(tenant_id, email, password_hash, display_name, role, created_at) "
             "VALUES (:t, :e, :p, :d, 'owner', :c) RETURNING id",
          soci::use(tenant_id), soci::use(email), soci::use(hash), soci::use(display_name),
          soci::use(now), soci::into(user_id);
    } catch (const soci::soci_error& e) {
      if (store::ClassifyDbError(e) == store::DbErrorKind::kUniqueViolation) {
        return Status::AlreadyExists("email is already registered", "email");
      }
      throw;
    }
    impl_->InsertRefresh(sql, TenantId(tenant_id), UserId(user_id), family, refresh);
    info = UserInfo{UserId(user_id), TenantId(tenant_id), tenant_name, email,
                    display_name,    Role::kOwner,        now};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  LogEvent(spdlog::level::info, "tenant_registered",
           {{"tenant_id", info.tenant.value()}, {"user_id", info.id.value()}});
  return std::make_pair(info, impl_->Pair(info.tenant, info.id, Role::kOwner, refresh));
}

Result<TokenPair> AccountService::Login(std::string_view email_raw, std::string_view password) {
  SINYAL_CHECK_CONFIG();
  auto email = NormalizeEmail(email_raw);
  long long user_id = 0, tenant_id = 0;
  std::string hash, role_name;
  bool found = false;
  if (email.ok() && password.size() <= 256) {
    SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
      sql << "SELECT id, tenant_id, password_hash, role FROM users WHERE email = :e",
          soci::use(*email), soci::into(user_id), soci::into(tenant_id), soci::into(hash),
          soci::into(role_name);
      found = sql.got_data();
      return Status::Ok();
    }));
  }
  // Always one argon2id verification, so unknown emails take as long as wrong passwords.
  const bool ok = impl_->Verify(found ? hash : Impl::DummyHash(), password.substr(0, 256));
  if (found && !ok) {
    // A known account's wrong password is audited for its organisation (unknown emails have no
    // organisation to tell: they are only counted in the log).
    Status audited = impl_->db.WithTenantTx(TenantId(tenant_id), [&](soci::session& sql) {
      Audit(sql, TenantId(tenant_id), store::kAuditSignInFailed, UserSubject(user_id),
            UserSubject(user_id), {{"reason", "wrong password"}}, impl_->clock.Now());
      return Status::Ok();
    });
    if (!audited.ok())
      LogEvent(spdlog::level::warn, "audit_write_failed", {{"error", audited.message()}});
  }
  if (!found || !ok) return Status::Unauthenticated(std::string(kBadCredentials));
  SINYAL_ASSIGN_OR_RETURN(Role role, ParseRole(role_name));

  const auto refresh = impl_->MakeRefresh();
  const std::string family = crypto::Base64UrlEncode(crypto::RandomBytes(16));
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantTx(TenantId(tenant_id), [&](soci::session& sql) {
    impl_->InsertRefresh(sql, TenantId(tenant_id), UserId(user_id), family, refresh);
    Audit(sql, TenantId(tenant_id), store::kAuditSignIn, UserSubject(user_id), UserSubject(user_id),
          nlohmann::json::object(), impl_->clock.Now());
    return Status::Ok();
  }));
  return impl_->Pair(TenantId(tenant_id), UserId(user_id), role, refresh);
}

Result<TokenPair> AccountService::LoginOperator(std::string_view email_raw,
                                                std::string_view password) {
  SINYAL_CHECK_CONFIG();
  auto email = NormalizeEmail(email_raw);
  long long op_id = 0;
  std::string hash;
  bool found = false;
  if (email.ok() && password.size() <= 256) {
    SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
      sql << "SELECT id, password_hash FROM operators WHERE email = :e", soci::use(*email),
          soci::into(op_id), soci::into(hash);
      found = sql.got_data();
      return Status::Ok();
    }));
  }
  const bool ok = impl_->Verify(found ? hash : Impl::DummyHash(), password.substr(0, 256));
  if (!found || !ok) return Status::Unauthenticated(std::string(kBadCredentials));
  TokenPair p;
  p.access_token = impl_->AccessToken(TenantId(), UserId(op_id), Role::kOperator);
  p.expires_in = impl_->config.access_ttl_seconds;
  LogEvent(spdlog::level::info, "operator_login", {{"operator_id", op_id}});
  return p;
}

Result<TokenPair> AccountService::Refresh(std::string_view refresh_token) {
  SINYAL_CHECK_CONFIG();
  if (!LooksLikeSecret(refresh_token)) return Status::Unauthenticated("invalid refresh token");
  const std::string hash = crypto::Sha256Hex(refresh_token);
  SINYAL_ASSIGN_OR_RETURN(TenantId tenant, impl_->RefreshTenant(hash));

  const auto next = impl_->MakeRefresh();
  Status outcome;  // decided inside; the transaction commits even when it is a rejection
  long long user_id = 0;
  std::string role_name;
  Status st = impl_->db.WithTenantTx(tenant, [&](soci::session& sql) {
    long long t = tenant.value(), id = 0, expires = 0, used = 0, revoked = 0;
    const long long now = impl_->clock.Now();
    soci::indicator used_ind = soci::i_null, revoked_ind = soci::i_null;
    std::string family;
    sql << "SELECT id, user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens "
           "WHERE tenant_id = :t AND token_hash = :h",
        soci::use(t), soci::use(hash), soci::into(id), soci::into(user_id), soci::into(family),
        soci::into(expires), soci::into(used, used_ind), soci::into(revoked, revoked_ind);
    if (!sql.got_data()) {
      outcome = Status::Unauthenticated("invalid refresh token");
      return Status::Ok();
    }
    auto revoke_family = [&] {
      sql << "UPDATE refresh_tokens SET revoked_at = :n WHERE tenant_id = :t AND family = :f "
             "AND revoked_at IS NULL",
          soci::use(now), soci::use(t), soci::use(family);
      LogEvent(spdlog::level::warn, "refresh_token_reuse",
               {{"tenant_id", t}, {"user_id", user_id}});
      Audit(sql, tenant, store::kAuditRefreshReuse, UserSubject(user_id), UserSubject(user_id),
            {{"session_revoked", true}}, now);
      outcome = Status::Unauthenticated("refresh token was already used; session revoked");
    };
    if (revoked_ind != soci::i_null) {
      outcome = Status::Unauthenticated("refresh token revoked");
      return Status::Ok();
    }
    if (used_ind != soci::i_null) {
      revoke_family();
      return Status::Ok();
    }
    if (now >= expires) {
      outcome = Status::Unauthenticated("refresh token expired");
      return Status::Ok();
    }
    // Single use, even under concurrency: only one transaction flips used_at from NULL.
    soci::statement mark =
        (sql.prepare << "UPDATE refresh_tokens SET used_at = :n WHERE tenant_id = :t AND id = "
                        ":id AND used_at IS NULL AND revoked_at IS NULL",
         soci::use(now), soci::use(t), soci::use(id));
    mark.execute(true);
    if (mark.get_affected_rows() != 1) {
      revoke_family();
      return Status::Ok();
    }
    UserRow user;
    long long u = user_id;
    if (!FetchUser(sql, "WHERE u.tenant_id = :t AND u.id = :u", t, u, &user)) {
      outcome = Status::Unauthenticated("invalid refresh token");
      return Status::Ok();
    }
    role_name = user.role;
    impl_->InsertRefresh(sql, tenant, UserId(user_id), family, next);
    return Status::Ok();
  });
  SINYAL_RETURN_IF_ERROR(ReturnStatus(st, outcome));
  SINYAL_ASSIGN_OR_RETURN(Role role, ParseRole(role_name));
  return impl_->Pair(tenant, UserId(user_id), role, next);
}

Status AccountService::Logout(std::string_view refresh_token) {
  SINYAL_CHECK_CONFIG();
  if (!LooksLikeSecret(refresh_token)) return Status::Unauthenticated("invalid refresh token");
  const std::string hash = crypto::Sha256Hex(refresh_token);
  SINYAL_ASSIGN_OR_RETURN(TenantId tenant, impl_->RefreshTenant(hash));
  return impl_->db.WithTenantTx(tenant, [&](soci::session& sql) {
    long long t = tenant.value(), now = impl_->clock.Now();
    std::string family;
    sql << "SELECT family FROM refresh_tokens WHERE tenant_id = :t AND token_hash = :h",
        soci::use(t), soci::use(hash), soci::into(family);
    if (!sql.got_data()) return Status::Unauthenticated("invalid refresh token");
    sql << "UPDATE refresh_tokens SET revoked_at = :n WHERE tenant_id = :t AND family = :f AND "
           "revoked_at IS NULL",
        soci::use(now), soci::use(t), soci::use(family);
    return Status::Ok();
  });
}

Result<Principal> AccountService::AuthenticateAccessToken(std::string_view token) const {
  SINYAL_CHECK_CONFIG();
  const Status invalid = Status::Unauthenticated("invalid access token");
  jwt::VerifyOptions opts{impl_->config.issuer, impl_->config.audience,
                          ToSeconds(impl_->clock.Now()), impl_->config.leeway_seconds};
  auto claims = jwt::VerifyHs256(token, impl_->config.jwt_secret, opts);
  if (!claims.ok()) {
    if (claims.error().message() == "token expired") {
      return Status::Unauthenticated("access token expired");
    }
    return invalid;
  }
  const nlohmann::json& c = *claims;
  auto sub = c.find("sub");
  auto role_it = c.find("role");
  if (sub == c.end() || !sub->is_string() || role_it == c.end() || !role_it->is_string()) {
    return invalid;
  }
  const std::string& sub_s = sub->get_ref<const std::string&>();
  if (sub_s.empty() || sub_s.size() > 18 ||
      !std::all_of(sub_s.begin(), sub_s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return invalid;
  }
  auto role = ParseRole(role_it->get_ref<const std::string&>());
  if (!role.ok()) return invalid;
  Principal p;
  p.user = UserId(std::stoll(sub_s));
  p.role = *role;
  auto tid = c.find("tid");
  if (*role == Role::kOperator) {
    if (tid != c.end()) return invalid;
  } else {
    if (tid == c.end() || !tid->is_number_integer()) return invalid;
    if (tid->is_number_unsigned() &&
        tid->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return invalid;
    }
    if (tid->get<int64_t>() <= 0) return invalid;
    p.tenant = TenantId(tid->get<int64_t>());
  }
  if (!p.user.valid()) return invalid;
  return p;
}

Result<Principal> AccountService::AuthenticateApiKey(std::string_view key) {
  SINYAL_CHECK_CONFIG();
  const Status invalid = Status::Unauthenticated("invalid API key");
  const bool feed_key = key.substr(0, kFeedKeyPrefix.size()) == kFeedKeyPrefix;
  if (key.size() != kApiKeyPrefix.size() + kSecretB64Len ||
      (key.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix && !feed_key) ||
      !LooksLikeSecret(key.substr(kApiKeyPrefix.size()))) {
    return invalid;
  }
  const std::string hash = crypto::Sha256Hex(key);
  const UnixNanos now = impl_->clock.Now();
  const int64_t ttl_ns = impl_->config.api_key_cache_ttl_seconds * kNanosPerSecond;

  if (ttl_ns > 0) {
    std::shared_ptr<CachedKey> entry;
    {
      std::shared_lock lock(impl_->cache_mu);
      auto it = impl_->cache.find(hash);
      if (it != impl_->cache.end()) entry = it->second;
    }
    if (entry && now - entry->cached_at < ttl_ns) {
      if (entry->expires_at && now >= *entry->expires_at) return invalid;
      impl_->MaybeTouchLastUsed(*entry, now);
      return entry->principal;
    }
  }

  auto entry = std::make_shared<CachedKey>();
  bool found = false;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
    if (feed_key) {
      long long id = 0, op = 0, revoked = 0, last_used = 0;
      soci::indicator rev_ind = soci::i_null, lu_ind = soci::i_null;
      std::string scopes;
      sql << "SELECT id, operator_id, scopes, revoked_at, last_used_at FROM operator_keys "
             "WHERE key_hash = :h",
          soci::use(hash), soci::into(id), soci::into(op), soci::into(scopes),
          soci::into(revoked, rev_ind), soci::into(last_used, lu_ind);
      if (!sql.got_data() || rev_ind != soci::i_null) return Status::Ok();
      found = true;
      entry->operator_key = true;
      entry->principal =
          Principal{TenantId(), UserId(op), ApiKeyId(id), Role::kOperator, SplitScopes(scopes)};
      entry->cached_at = now;
      entry->last_used_written.store(lu_ind == soci::i_null ? 0 : last_used);
      return Status::Ok();
    }
    long long id = 0, tenant = 0, user = 0, expires = 0, revoked = 0, last_used = 0;
    soci::indicator exp_ind = soci::i_null, rev_ind = soci::i_null, lu_ind = soci::i_null;
    std::string scopes, role;
    sql << "SELECT k.id, k.tenant_id, k.user_id, k.scopes, k.expires_at, k.revoked_at, "
           "k.last_used_at, u.role FROM api_keys k JOIN users u ON u.id = k.user_id AND "
           "u.tenant_id = k.tenant_id WHERE k.key_hash = :h",
        soci::use(hash), soci::into(id), soci::into(tenant), soci::into(user), soci::into(scopes),
        soci::into(expires, exp_ind), soci::into(revoked, rev_ind), soci::into(last_used, lu_ind),
        soci::into(role);
    if (!sql.got_data() || rev_ind != soci::i_null) return Status::Ok();
    auto r = ParseRole(role);
    if (!r.ok()) return Status::Ok();
    found = true;
    entry->principal =
        Principal{TenantId(tenant), UserId(user), ApiKeyId(id), *r, SplitScopes(scopes)};
    entry->expires_at = FromNullable(expires, exp_ind);
    entry->cached_at = now;
    entry->last_used_written.store(lu_ind == soci::i_null ? 0 : last_used);
    return Status::Ok();
  }));
  if (!found) {
    std::unique_lock lock(impl_->cache_mu);
    impl_->cache.erase(hash);
    return invalid;
  }
  if (entry->expires_at && now >= *entry->expires_at) return invalid;
  if (ttl_ns > 0) {
    std::unique_lock lock(impl_->cache_mu);
    // Bound memory: a flood of distinct valid keys can't grow the map without limit.
    if (impl_->cache.size() >= 100000) impl_->cache.clear();
    impl_->cache[hash] = entry;
  }
  impl_->MaybeTouchLastUsed(*entry, now);
  return entry->principal;
}

Result<UserInfo> AccountService::Me(const Principal& p) {
  SINYAL_CHECK_CONFIG();
  if (p.is_operator()) {
    UserInfo u;
    bool found = false;
    SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
      long long id = p.user.value(), created = 0;
      sql << "SELECT email, created_at FROM operators WHERE id = :id", soci::use(id),
          soci::into(u.email), soci::into(created);
      found = sql.got_data();
      u.created_at = created;
      return Status::Ok();
    }));
    if (!found) return Status::NotFound("no such operator", "user");
    u.id = p.user;
    u.role = Role::kOperator;
    return u;
  }
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeRead));
  UserRow row;
  bool found = false;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantReadTx(p.tenant, [&](soci::session& sql) {
    found = FetchUser(sql, "WHERE u.tenant_id = :t AND u.id = :u", p.tenant.value(), p.user.value(),
                      &row);
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no such user", "user");
  return ToUserInfo(row);
}

Result<CreatedApiKey> AccountService::CreateApiKey(const Principal& p, std::string name,
                                                   std::vector<std::string> scopes,
                                                   std::optional<UnixNanos> expires_at) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireTenantUser(p));
  if (p.api_key && !p.HasScope(kScopeAdmin)) {
    return Status::PermissionDenied("API key lacks scope 'admin'");
  }
  SINYAL_ASSIGN_OR_RETURN(std::string clean_name, ValidateName(name, "name"));
  if (scopes.empty()) scopes = DefaultApiKeyScopes();
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  for (const auto& s : scopes) {
    if (!IsKnownScope(s)) {
      return Status::InvalidArgument("unknown scope '" + s + "' (known: predict, read, admin)",
                                     "scopes");
    }
    if (s == kScopeAdmin && !Impl::IsManager(p)) {
      return Status::PermissionDenied("only owners and admins can grant scope 'admin'", "scopes");
    }
    if (!p.HasScope(s)) {
      return Status::PermissionDenied("cannot grant scope '" + s + "' this key lacks", "scopes");
    }
  }
  const UnixNanos now = impl_->clock.Now();
  if (expires_at && *expires_at <= now) {
    return Status::InvalidArgument("expires_at must be in the future", "expires_at");
  }

  CreatedApiKey out;
  out.secret =
      std::string(kApiKeyPrefix) + crypto::Base64UrlEncode(crypto::RandomBytes(kSecretBytes));
  const std::string hash = crypto::Sha256Hex(out.secret);
  const std::string prefix = out.secret.substr(0, kApiKeyDisplayPrefix);
  const std::string scope_text = JoinScopes(scopes);
  long long id = 0;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantTx(p.tenant, [&](soci::session& sql) {
    long long t = p.tenant.value(), u = p.user.value(), c = now;
    long long e = expires_at.value_or(0);
    soci::indicator e_ind = expires_at ? soci::i_ok : soci::i_null;
    sql << "INSERT INTO api_keys(tenant_id, user_id, name, prefix, key_hash, scopes, created_at, "
           "expires_at) VALUES (:t, :u, :n, :p, :h, :s, :c, :e) RETURNING id",
        soci::use(t), soci::use(u), soci::use(clean_name), soci::use(prefix), soci::use(hash),
        soci::use(scope_text), soci::use(c), soci::use(e, e_ind), soci::into(id);
    Audit(sql, p.tenant, store::kAuditApiKeyCreated, ActorOf(p), "api_key:" + std::to_string(id),
          {{"name", clean_name}, {"prefix", prefix}, {"scopes", scopes}}, now);
    return Status::Ok();
  }));
  out.info.id = ApiKeyId(id);
  out.info.name = clean_name;
  out.info.prefix = prefix;
  out.info.scopes = scopes;
  out.info.created_at = now;
  out.info.expires_at = expires_at;
  out.info.created_by = p.user;
  LogEvent(spdlog::level::info, "api_key_created",
           {{"tenant_id", p.tenant.value()}, {"api_key_id", id}, {"prefix", prefix}});
  return out;
}

Result<std::vector<ApiKeyInfo>> AccountService::ListApiKeys(const Principal& p) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeRead));
  std::vector<ApiKeyInfo> out;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantReadTx(p.tenant, [&](soci::session& sql) {
    ApiKeyRow r;
    long long t = p.tenant.value();
    const long long only_user = Impl::IsManager(p) ? 0 : p.user.value();
    soci::statement st =
        (sql.prepare << "SELECT id, user_id, name, prefix, scopes, created_at, last_used_at, "
                        "expires_at, revoked_at FROM api_keys WHERE tenant_id = :t AND (:ou = 0 "
                        "OR user_id = :ou2) ORDER BY id DESC",
         soci::use(t), soci::use(only_user), soci::use(only_user), soci::into(r.id),
         soci::into(r.user_id), soci::into(r.name), soci::into(r.prefix), soci::into(r.scopes),
         soci::into(r.created_at), soci::into(r.last_used, r.last_used_ind),
         soci::into(r.expires, r.expires_ind), soci::into(r.revoked, r.revoked_ind));
    st.execute();
    while (st.fetch()) out.push_back(ToApiKeyInfo(r));
    return Status::Ok();
  }));
  return out;
}

Result<ApiKeyInfo> AccountService::GetApiKey(const Principal& p, ApiKeyId id) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeRead));
  ApiKeyInfo info;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantReadTx(p.tenant, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(ApiKeyRow r, impl_->FetchKey(sql, p, id));
    info = ToApiKeyInfo(r);
    return Status::Ok();
  }));
  return info;
}

Status AccountService::RevokeApiKey(const Principal& p, ApiKeyId id) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireTenantUser(p));
  if (p.api_key && !p.HasScope(kScopeAdmin)) {
    return Status::PermissionDenied("API key lacks scope 'admin'");
  }
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(ApiKeyRow r, impl_->FetchKey(sql, p, id));
    long long t = p.tenant.value(), kid = id.value(), now = impl_->clock.Now();
    soci::statement revoke =
        (sql.prepare << "UPDATE api_keys SET revoked_at = :n WHERE tenant_id = :t AND id = :id AND "
                        "revoked_at IS NULL",
         soci::use(now), soci::use(t), soci::use(kid));
    revoke.execute(true);
    if (revoke.get_affected_rows() == 1) {
      Audit(sql, p.tenant, store::kAuditApiKeyRevoked, ActorOf(p), "api_key:" + std::to_string(kid),
            {{"name", r.name}, {"prefix", r.prefix}}, now);
    }
    return Status::Ok();
  }));
  // Effective at once in this process; other processes drop their cache entry within the TTL.
  impl_->InvalidateKeys([&](const CachedKey& k) {
    return k.principal.tenant == p.tenant && k.principal.api_key == id;
  });
  LogEvent(spdlog::level::info, "api_key_revoked",
           {{"tenant_id", p.tenant.value()}, {"api_key_id", id.value()}});
  return Status::Ok();
}

Result<std::vector<UserInfo>> AccountService::ListMembers(const Principal& p) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeRead));
  std::vector<UserInfo> out;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantReadTx(p.tenant, [&](soci::session& sql) -> Status {
    UserRow r;
    long long t = p.tenant.value();
    soci::statement st =
        (sql.prepare << std::string(kSelectUser) + "WHERE u.tenant_id = :t ORDER BY u.id",
         soci::use(t), soci::into(r.id), soci::into(r.tenant_id), soci::into(r.tenant_name),
         soci::into(r.email), soci::into(r.display_name), soci::into(r.role),
         soci::into(r.created_at));
    st.execute();
    while (st.fetch()) {
      SINYAL_ASSIGN_OR_RETURN(UserInfo u, ToUserInfo(r));
      out.push_back(std::move(u));
    }
    return Status::Ok();
  }));
  return out;
}

Result<UserInfo> AccountService::AddMember(const Principal& p, std::string email_raw,
                                           std::string password, std::string display_name_raw,
                                           Role role) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeAdmin));
  if (!Impl::IsManager(p)) return Status::PermissionDenied("only owners and admins add members");
  if (role == Role::kOperator) {
    return Status::InvalidArgument("role must be one of owner, admin, member", "role");
  }
  if (role == Role::kOwner && p.role != Role::kOwner) {
    return Status::PermissionDenied("only owners can add owners", "role");
  }
  SINYAL_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(email_raw));
  SINYAL_RETURN_IF_ERROR(ValidatePassword(password));
  SINYAL_ASSIGN_OR_RETURN(std::string display_name, ValidateName(display_name_raw, "display_name"));
  SINYAL_ASSIGN_OR_RETURN(std::string hash, impl_->Hash(password));
  UserRow row;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    long long t = p.tenant.value(), now = impl_->clock.Now(), id = 0;
    const std::string role_name(RoleName(role));
    try {
      sql << "INSERT INTO users(tenant_id, email, password_hash, display_name, role, created_at) "
             "VALUES (:t, :e, :p, :d, :r, :c) RETURNING id",
          soci::use(t), soci::use(email), soci::use(hash), soci::use(display_name),
          soci::use(role_name), soci::use(now), soci::into(id);
    } catch (const soci::soci_error& e) {
      if (store::ClassifyDbError(e) == store::DbErrorKind::kUniqueViolation) {
        return Status::AlreadyExists("email is already registered", "email");
      }
      throw;
    }
    if (!FetchUser(sql, "WHERE u.tenant_id = :t AND u.id = :u", t, id, &row)) {
      return Status::Internal("new member not found");
    }
    Audit(sql, p.tenant, store::kAuditMemberAdded, ActorOf(p), UserSubject(id),
          {{"email", email}, {"role", role_name}}, now);
    return Status::Ok();
  }));
  LogEvent(spdlog::level::info, "member_added",
           {{"tenant_id", p.tenant.value()}, {"user_id", row.id}, {"by", p.user.value()}});
  return ToUserInfo(row);
}

Result<UserInfo> AccountService::UpdateMemberRole(const Principal& p, UserId user, Role role) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeAdmin));
  if (p.role != Role::kOwner) return Status::PermissionDenied("only owners change roles");
  if (role == Role::kOperator) {
    return Status::InvalidArgument("role must be one of owner, admin, member", "role");
  }
  UserRow row;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    impl_->LockTenant(sql, p.tenant);
    long long t = p.tenant.value(), u = user.value();
    if (!FetchUser(sql, "WHERE u.tenant_id = :t AND u.id = :u", t, u, &row)) {
      return Status::NotFound("no such member", "user_id");
    }
    if (row.role == "owner" && role != Role::kOwner && impl_->CountOwners(sql, p.tenant) <= 1) {
      return Status::FailedPrecondition("a tenant must keep at least one owner", "role");
    }
    const std::string role_name(RoleName(role));
    sql << "UPDATE users SET role = :r WHERE tenant_id = :t AND id = :u", soci::use(role_name),
        soci::use(t), soci::use(u);
    if (row.role != role_name) {
      Audit(sql, p.tenant, store::kAuditMemberRoleChanged, ActorOf(p), UserSubject(u),
            {{"from", row.role}, {"to", role_name}}, impl_->clock.Now());
    }
    row.role = role_name;
    return Status::Ok();
  }));
  // API keys carry their creator's role: drop cached ones so the change applies now.
  impl_->InvalidateKeys([&](const CachedKey& k) {
    return k.principal.tenant == p.tenant && k.principal.user == user;
  });
  return ToUserInfo(row);
}

Status AccountService::RemoveMember(const Principal& p, UserId user) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(Impl::RequireScope(p, kScopeAdmin));
  if (!Impl::IsManager(p)) return Status::PermissionDenied("only owners and admins remove members");
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    impl_->LockTenant(sql, p.tenant);
    long long t = p.tenant.value(), u = user.value();
    UserRow row;
    if (!FetchUser(sql, "WHERE u.tenant_id = :t AND u.id = :u", t, u, &row)) {
      return Status::NotFound("no such member", "user_id");
    }
    if (row.role == "owner") {
      if (p.role != Role::kOwner) return Status::PermissionDenied("only owners remove owners");
      if (impl_->CountOwners(sql, p.tenant) <= 1) {
        return Status::FailedPrecondition("a tenant must keep at least one owner", "user_id");
      }
    }
    // Explicit deletes (not only ON DELETE CASCADE) keep this correct on either backend.
    sql << "DELETE FROM refresh_tokens WHERE tenant_id = :t AND user_id = :u", soci::use(t),
        soci::use(u);
    sql << "DELETE FROM api_keys WHERE tenant_id = :t AND user_id = :u", soci::use(t), soci::use(u);
    sql << "DELETE FROM users WHERE tenant_id = :t AND id = :u", soci::use(t), soci::use(u);
    Audit(sql, p.tenant, store::kAuditMemberRemoved, ActorOf(p), UserSubject(u),
          {{"email", row.email}, {"role", row.role}}, impl_->clock.Now());
    return Status::Ok();
  }));
  impl_->InvalidateKeys([&](const CachedKey& k) {
    return k.principal.tenant == p.tenant && k.principal.user == user;
  });
  LogEvent(spdlog::level::info, "member_removed",
           {{"tenant_id", p.tenant.value()}, {"user_id", user.value()}, {"by", p.user.value()}});
  return Status::Ok();
}

Result<UserInfo> AccountService::CreateOperator(std::string_view email_raw,
                                                std::string_view password) {
  SINYAL_CHECK_CONFIG();
  SINYAL_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(email_raw));
  SINYAL_RETURN_IF_ERROR(ValidatePassword(password));
  SINYAL_ASSIGN_OR_RETURN(std::string hash, impl_->Hash(password));
  UserInfo u;
  const long long now = impl_->clock.Now();
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTx([&](soci::session& sql) -> Status {
    long long id = 0;
    try {
      sql << "INSERT INTO operators(email, password_hash, created_at) VALUES (:e, :p, :c) "
             "RETURNING id",
          soci::use(email), soci::use(hash), soci::use(now), soci::into(id);
    } catch (const soci::soci_error& e) {
      if (store::ClassifyDbError(e) == store::DbErrorKind::kUniqueViolation) {
        return Status::AlreadyExists("an operator with this email exists", "email");
      }
      throw;
    }
    u.id = UserId(id);
    return Status::Ok();
  }));
  u.email = email;
  u.role = Role::kOperator;
  u.created_at = now;
  LogEvent(spdlog::level::info, "operator_created", {{"operator_id", u.id.value()}});
  return u;
}

namespace {
Status RequireOperatorToken(const Principal& p) {
  if (!p.is_operator() || p.api_key) {
    return Status::PermissionDenied(
        "only an operator signed in with an access token can manage feed keys");
  }
  return Status::Ok();
}
}  // namespace

Result<CreatedApiKey> AccountService::CreateOperatorKey(const Principal& op, std::string name) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(RequireOperatorToken(op));
  SINYAL_ASSIGN_OR_RETURN(std::string clean_name, ValidateName(name, "name"));
  const UnixNanos now = impl_->clock.Now();
  CreatedApiKey out;
  out.secret =
      std::string(kFeedKeyPrefix) + crypto::Base64UrlEncode(crypto::RandomBytes(kSecretBytes));
  const std::string hash = crypto::Sha256Hex(out.secret);
  const std::string prefix = out.secret.substr(0, kApiKeyDisplayPrefix);
  const std::string scopes(kScopeFeed);
  long long id = 0;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTx([&](soci::session& sql) {
    long long o = op.user.value(), c = now;
    sql << "INSERT INTO operator_keys(operator_id, name, prefix, key_hash, scopes, created_at) "
           "VALUES (:o, :n, :p, :h, :s, :c) RETURNING id",
        soci::use(o), soci::use(clean_name), soci::use(prefix), soci::use(hash), soci::use(scopes),
        soci::use(c), soci::into(id);
    return Status::Ok();
  }));
  out.info.id = ApiKeyId(id);
  out.info.name = clean_name;
  out.info.prefix = prefix;
  out.info.scopes = {scopes};
  out.info.created_at = now;
  out.info.created_by = op.user;
  LogEvent(spdlog::level::info, "operator_key_created",
           {{"operator_id", op.user.value()}, {"key_id", id}, {"prefix", prefix}});
  return out;
}

Result<std::vector<ApiKeyInfo>> AccountService::ListOperatorKeys(const Principal& op) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(RequireOperatorToken(op));
  std::vector<ApiKeyInfo> out;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
    ApiKeyRow r;
    soci::statement st =
        (sql.prepare << "SELECT id, operator_id, name, prefix, scopes, created_at, last_used_at, "
                        "revoked_at FROM operator_keys ORDER BY id DESC",
         soci::into(r.id), soci::into(r.user_id), soci::into(r.name), soci::into(r.prefix),
         soci::into(r.scopes), soci::into(r.created_at), soci::into(r.last_used, r.last_used_ind),
         soci::into(r.revoked, r.revoked_ind));
    st.execute();
    while (st.fetch()) out.push_back(ToApiKeyInfo(r));
    return Status::Ok();
  }));
  return out;
}

Result<AccountService::TenantPage> AccountService::ListTenants(const Principal& op, int64_t limit,
                                                               int64_t offset) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(RequireOperatorToken(op));
  if (limit < 1 || limit > 500)
    return Status::InvalidArgument("limit must be in [1, 500]", "limit");
  if (offset < 0) return Status::InvalidArgument("offset must be >= 0", "offset");
  TenantPage page;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithReadTx([&](soci::session& sql) {
    long long total = 0;
    sql << "SELECT COUNT(*) FROM tenants", soci::into(total);
    page.total = total;
    long long lim = limit, off = offset;
    soci::rowset<soci::row> rows =
        (sql.prepare
             << "SELECT t.id, t.name, t.created_at, "
                "(SELECT MIN(u.email) FROM users u WHERE u.tenant_id = t.id AND u.role = 'owner'), "
                "(SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id), "
                "(SELECT COUNT(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS "
                "NULL) "
                "FROM tenants t ORDER BY t.id DESC LIMIT :lim OFFSET :off",
         soci::use(lim, "lim"), soci::use(off, "off"));
    for (const soci::row& r : rows) {
      auto num = [&r](size_t i) {
        return store::RowInt64(r, i);
      };  // COUNT(*): int, long long or text
      TenantSummary t;
      t.id = TenantId(num(0));
      t.name = r.get<std::string>(1);
      t.created_at = num(2);
      t.owner_email = r.get_indicator(3) == soci::i_ok ? r.get<std::string>(3) : "";
      t.users = num(4);
      t.api_keys = num(5);
      page.items.push_back(std::move(t));
    }
    return Status::Ok();
  }));
  return page;
}

Status AccountService::RevokeOperatorKey(const Principal& op, ApiKeyId id) {
  SINYAL_CHECK_CONFIG();
  SINYAL_RETURN_IF_ERROR(RequireOperatorToken(op));
  bool exists = false;
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTx([&](soci::session& sql) {
    long long kid = id.value(), now = impl_->clock.Now(), found = 0;
    sql << "SELECT id FROM operator_keys WHERE id = :id", soci::use(kid), soci::into(found);
    if (!sql.got_data()) return Status::Ok();
    exists = true;
    sql << "UPDATE operator_keys SET revoked_at = :n WHERE id = :id AND revoked_at IS NULL",
        soci::use(now), soci::use(kid);
    return Status::Ok();
  }));
  if (!exists) return Status::NotFound("no such feed key", "id");
  impl_->InvalidateKeys(
      [&](const CachedKey& k) { return k.operator_key && k.principal.api_key == id; });
  LogEvent(spdlog::level::info, "operator_key_revoked",
           {{"operator_id", op.user.value()}, {"key_id", id.value()}});
  return Status::Ok();
}

Result<std::string> AccountService::IssueAccessToken(const Principal& p) const {
  SINYAL_CHECK_CONFIG();
  if (!p.user.valid()) return Status::InvalidArgument("principal has no user", "user");
  if (!p.is_operator() && !p.tenant.valid()) {
    return Status::InvalidArgument("principal has no tenant", "tenant");
  }
  return impl_->AccessToken(p.tenant, p.user, p.role);
}

void AccountService::ClearApiKeyCache() {
  std::unique_lock lock(impl_->cache_mu);
  impl_->cache.clear();
}

}  // namespace sinyal::accounts
