#include "accounts/accounts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "accounts/crypto.h"
#include "core/testing/test_util.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::accounts {
namespace {

constexpr UnixNanos kStart = 1'700'000'000LL * kNanosPerSecond;
const std::string kSecret = "test-secret-0123456789-abcdefghijklmnop";

AuthConfig Config() {
  AuthConfig c;
  c.jwt_secret = kSecret;
  return c;
}

// ============================================================================================
// Access-token attacks. Each forges a token with the real secret where that matters, so the
// only thing wrong with it is the one property under test.
// ============================================================================================

class TokenAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = store::testing::OpenMemoryDatabase();
    ASSERT_NE(db_, nullptr);
    service_ = std::make_unique<AccountService>(*db_, clock_, Config());
  }

  static nlohmann::json Header(std::string_view alg) { return {{"alg", alg}, {"typ", "JWT"}}; }
  nlohmann::json Claims() const {
    const int64_t now = clock_.Now() / kNanosPerSecond;
    return {{"iss", "sinyal"}, {"aud", "sinyal-api"}, {"sub", "7"},
            {"tid", 3},        {"role", "admin"},     {"jti", "abc"},
            {"iat", now},      {"nbf", now},          {"exp", now + 900}};
  }
  static std::string Sign(const EVP_MD* md, std::string_view key, std::string_view input) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &len);
    return crypto::Base64UrlEncode(std::string(reinterpret_cast<char*>(out), len));
  }
  // header.payload.signature, signed with HMAC(md, key).
  static std::string Forge(const nlohmann::json& header, const nlohmann::json& claims,
                           const EVP_MD* md = EVP_sha256(), std::string_view key = kSecret) {
    std::string input =
        crypto::Base64UrlEncode(header.dump()) + "." + crypto::Base64UrlEncode(claims.dump());
    return input + "." + Sign(md, key, input);
  }
  void ExpectRejected(const std::string& token) {
    auto p = service_->AuthenticateAccessToken(token);
    ASSERT_FALSE(p.ok()) << token;
    EXPECT_EQ(p.error().code(), StatusCode::kUnauthenticated);
  }

  ManualClock clock_{kStart};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AccountService> service_;
};

TEST_F(TokenAttackTest, ControlForgedTokenWithCorrectPropertiesIsAccepted) {
  // Proves the forging helper is right, so each rejection below is due to its one change.
  auto p = service_->AuthenticateAccessToken(Forge(Header("HS256"), Claims()));
  ASSERT_OK(p);
  EXPECT_EQ(p->user, UserId(7));
  EXPECT_EQ(p->tenant, TenantId(3));
  EXPECT_EQ(p->role, Role::kAdmin);
  EXPECT_FALSE(p->api_key.has_value());
}

TEST_F(TokenAttackTest, AlgNoneIsRejected) {
  const std::string unsigned_token = crypto::Base64UrlEncode(Header("none").dump()) + "." +
                                     crypto::Base64UrlEncode(Claims().dump()) + ".";
  ExpectRejected(unsigned_token);
  // Also with a valid HS256 signature attached: the header's alg alone disqualifies it.
  ExpectRejected(Forge(Header("none"), Claims()));
  ExpectRejected(Forge(Header("None"), Claims()));
}

TEST_F(TokenAttackTest, Hs512HeaderIsRejected) {
  ExpectRejected(Forge(Header("HS512"), Claims(), EVP_sha512()));
  ExpectRejected(Forge(Header("HS512"), Claims(), EVP_sha256()));
}

TEST_F(TokenAttackTest, Rs256HeaderIsRejected) {
  // Key confusion: an "RS256" token HMAC-signed with the shared secret must not pass.
  ExpectRejected(Forge(Header("RS256"), Claims()));
}

TEST_F(TokenAttackTest, MissingOrOddAlgIsRejected) {
  ExpectRejected(Forge(nlohmann::json{{"typ", "JWT"}}, Claims()));
  ExpectRejected(Forge(nlohmann::json{{"alg", nullptr}}, Claims()));
  ExpectRejected(Forge(nlohmann::json{{"alg", "hs256"}}, Claims()));
  ExpectRejected(Forge(nlohmann::json{{"alg", "HS256"}, {"typ", "JWE"}}, Claims()));
  ExpectRejected(Forge(nlohmann::json{{"alg", "HS256"}, {"crit", {"exp"}}}, Claims()));
  ExpectRejected(Forge(nlohmann::json::array({"HS256"}), Claims()));
  // No typ at all is fine (it's optional).
  EXPECT_OK(service_->AuthenticateAccessToken(Forge(nlohmann::json{{"alg", "HS256"}}, Claims())));
}

TEST_F(TokenAttackTest, ExpiredTokenIsRejected) {
  auto token = service_->IssueAccessToken(
      Principal{TenantId(3), UserId(7), std::nullopt, Role::kMember, {}});
  ASSERT_OK(token);
  ASSERT_OK(service_->AuthenticateAccessToken(*token));
  clock_.Advance(900 * kNanosPerSecond + 29 * kNanosPerSecond);  // within the 30 s leeway
  EXPECT_OK(service_->AuthenticateAccessToken(*token));
  clock_.Advance(2 * kNanosPerSecond);
  auto p = service_->AuthenticateAccessToken(*token);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error(), Status::Unauthenticated("access token expired"));
}

TEST_F(TokenAttackTest, NotYetValidTokenIsRejected) {
  auto c = Claims();
  c["nbf"] = c["iat"].get<int64_t>() + 120;
  ExpectRejected(Forge(Header("HS256"), c));
  c = Claims();
  c["iat"] = c["iat"].get<int64_t>() + 120;  // issued in the future
  ExpectRejected(Forge(Header("HS256"), c));
}

TEST_F(TokenAttackTest, WrongSignatureIsRejected) {
  std::string token = Forge(Header("HS256"), Claims());
  token.back() = token.back() == 'A' ? 'B' : 'A';
  ExpectRejected(token);
  ExpectRejected(
      Forge(Header("HS256"), Claims(), EVP_sha256(), "another-secret-of-32-bytes-length!!"));
  // A payload swapped under a valid signature (privilege escalation attempt).
  std::string good = Forge(Header("HS256"), Claims());
  auto c = Claims();
  c["role"] = "owner";
  const size_t d1 = good.find('.'), d2 = good.rfind('.');
  ExpectRejected(good.substr(0, d1 + 1) + crypto::Base64UrlEncode(c.dump()) + good.substr(d2));
}

TEST_F(TokenAttackTest, WrongOrMissingAudienceOrIssuerIsRejected) {
  for (const auto& [claim, wrong] : {std::pair{"aud", "someone-else"}, std::pair{"iss", "evil"}}) {
    SCOPED_TRACE(claim);
    auto c = Claims();
    c[claim] = wrong;
    ExpectRejected(Forge(Header("HS256"), c));
    c.erase(claim);
    ExpectRejected(Forge(Header("HS256"), c));
  }
}

TEST_F(TokenAttackTest, BadSubjectTenantOrRoleIsRejected) {
  for (auto [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{{"sub", 7},
                                                                               {"sub", "-7"},
                                                                               {"sub", "7x"},
                                                                               {"sub", ""},
                                                                               {"tid", "3"},
                                                                               {"tid", 0},
                                                                               {"tid", -3},
                                                                               {"role", "root"},
                                                                               {"role", 1}}) {
    auto c = Claims();
    c[key] = value;
    ExpectRejected(Forge(Header("HS256"), c));
  }
  auto c = Claims();
  c.erase("tid");  // a tenant role without a tenant
  ExpectRejected(Forge(Header("HS256"), c));
  c = Claims();
  c["role"] = "operator";  // an operator token must not carry a tenant
  ExpectRejected(Forge(Header("HS256"), c));
}

TEST_F(TokenAttackTest, MalformedRandomBytesAreRejected) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 300, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    if (i % 3 == 0 && s.size() > 10) s[s.size() / 3] = '.', s[2 * s.size() / 3] = '.';
    EXPECT_FALSE(service_->AuthenticateAccessToken(s).ok());
  }
}

TEST_F(TokenAttackTest, TwoSegmentsAreRejected) {
  std::string good = Forge(Header("HS256"), Claims());
  ExpectRejected(good.substr(0, good.rfind('.')));
  ExpectRejected(good + ".extra");
  ExpectRejected("..");
  ExpectRejected("");
}

TEST_F(TokenAttackTest, BadBase64IsRejected) {
  std::string good = Forge(Header("HS256"), Claims());
  ExpectRejected(good + "=");            // padding on the signature
  ExpectRejected("!" + good.substr(1));  // outside the alphabet
  std::string plus = good;
  plus[plus.find('.') + 1] = '+';  // standard alphabet in the payload
  ExpectRejected(plus);
}

TEST_F(TokenAttackTest, HugeTokenIsRejected) {
  auto c = Claims();
  c["pad"] = std::string(10000, 'x');
  ExpectRejected(Forge(Header("HS256"), c));  // correctly signed, but over 4 KiB
  ExpectRejected(std::string(1 << 20, 'a'));
}

TEST_F(TokenAttackTest, ShortSecretDisablesTheService) {
  AuthConfig weak = Config();
  weak.jwt_secret = "short";
  AccountService svc(*db_, clock_, weak);
  auto r = svc.AuthenticateAccessToken(Forge(Header("HS256"), Claims(), EVP_sha256(), "short"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(weak.Validate().field(), "jwt_secret");
}

// ============================================================================================
// Service behaviour against a real database: SQLite and PostgreSQL.
// ============================================================================================

class AccountsTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    service_ = std::make_unique<AccountService>(db(), clock_, Config());
  }
  void TearDown() override {
    service_.reset();
    DbTest::TearDown();
  }

  std::pair<UserInfo, TokenPair> MustRegister(const std::string& tenant, const std::string& email) {
    auto r = service_->Register({tenant, email, "a long enough password", "Owner " + tenant});
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : std::pair<UserInfo, TokenPair>{};
  }
  Principal MustAuth(const std::string& access_token) {
    auto p = service_->AuthenticateAccessToken(access_token);
    EXPECT_TRUE(p.ok()) << p.error().ToString();
    return p.ok() ? *p : Principal{};
  }
  std::string Column(const std::string& query) {
    std::string v;
    EXPECT_OK(db().WithTx([&](soci::session& sql) {
      sql << query, soci::into(v);
      return Status::Ok();
    }));
    return v;
  }

  ManualClock clock_{kStart};
  std::unique_ptr<AccountService> service_;
};

TEST_P(AccountsTest, RegisterCreatesTenantAndOwner) {
  auto [user, tokens] = MustRegister("Acme Trading", "  Alice@Example.COM ");
  EXPECT_EQ(user.email, "alice@example.com");
  EXPECT_EQ(user.role, Role::kOwner);
  EXPECT_EQ(user.tenant_name, "Acme Trading");
  EXPECT_TRUE(user.tenant.valid());
  EXPECT_EQ(tokens.expires_in, 900);
  EXPECT_EQ(tokens.refresh_token.size(), 43u);
  EXPECT_EQ(tokens.refresh_expires_at, kStart + 30LL * 86400 * kNanosPerSecond);
  Principal p = MustAuth(tokens.access_token);
  EXPECT_EQ(p.tenant, user.tenant);
  EXPECT_EQ(p.user, user.id);
  EXPECT_EQ(p.role, Role::kOwner);
  auto me = service_->Me(p);
  ASSERT_OK(me);
  EXPECT_EQ(me->email, "alice@example.com");
  EXPECT_EQ(me->display_name, "Owner Acme Trading");
  EXPECT_EQ(me->tenant_name, "Acme Trading");
}

TEST_P(AccountsTest, RegisterNamesTheBadField) {
  auto field_of = [&](RegisterRequest r) {
    auto res = service_->Register(r);
    EXPECT_FALSE(res.ok());
    return res.ok() ? std::string("<ok>") : res.error().field();
  };
  const RegisterRequest good{"Acme", "a@example.com", "0123456789", "Alice"};
  auto with = [&](auto mutate) {
    RegisterRequest r = good;
    mutate(r);
    return r;
  };
  EXPECT_EQ(field_of(with([](auto& r) { r.tenant_name = "  "; })), "tenant_name");
  EXPECT_EQ(field_of(with([](auto& r) { r.tenant_name = std::string(101, 'x'); })), "tenant_name");
  EXPECT_EQ(field_of(with([](auto& r) { r.email = "no-at-sign"; })), "email");
  EXPECT_EQ(field_of(with([](auto& r) { r.email = "a@b"; })), "email");
  EXPECT_EQ(field_of(with([](auto& r) { r.email = "a b@example.com"; })), "email");
  EXPECT_EQ(field_of(with([](auto& r) { r.password = "012345678"; })), "password");
  EXPECT_EQ(field_of(with([](auto& r) { r.password = std::string(257, 'p'); })), "password");
  EXPECT_EQ(field_of(with([](auto& r) { r.display_name = ""; })), "display_name");
  EXPECT_EQ(field_of(with([](auto& r) { r.display_name = "bell\x07"; })), "display_name");
  EXPECT_EQ(field_of(with([](auto& r) { r.display_name = "bad \xff utf8"; })), "display_name");
  // Boundaries that are fine: 10-byte password, 100-character (multi-byte) name.
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "\xc3\xa9";  // é
  auto ok = service_->Register(with([&](auto& r) { r.display_name = hundred; }));
  EXPECT_OK(ok);
}

TEST_P(AccountsTest, DuplicateEmailIsAlreadyExists) {
  MustRegister("A", "dup@example.com");
  auto again = service_->Register({"B", "DUP@example.com", "0123456789", "Bob"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.error().field(), "email");
  // The failed registration left no tenant behind.
  EXPECT_EQ(Column("SELECT CAST(COUNT(*) AS TEXT) FROM tenants"), "1");
}

TEST_P(AccountsTest, PasswordsAreStoredAsArgon2id) {
  MustRegister("A", "hash@example.com");
  const std::string hash =
      Column("SELECT password_hash FROM users WHERE email = 'hash@example.com'");
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("a long enough password"), std::string::npos);
}

TEST_P(AccountsTest, LoginAcceptsRightPasswordOnly) {
  auto [user, _] = MustRegister("A", "login@example.com");
  auto ok = service_->Login("LOGIN@example.com", "a long enough password");
  ASSERT_OK(ok);
  EXPECT_EQ(MustAuth(ok->access_token).user, user.id);
  auto wrong = service_->Login("login@example.com", "a long enough passwore");
  auto unknown = service_->Login("nobody@example.com", "a long enough password");
  auto garbage = service_->Login("not an email", "x");
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  ASSERT_FALSE(garbage.ok());
  // Same answer for unknown user and wrong password: no user enumeration.
  EXPECT_EQ(wrong.error(), unknown.error());
  EXPECT_EQ(wrong.error(), garbage.error());
  EXPECT_EQ(wrong.error().code(), StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, RefreshRotatesTokens) {
  auto [user, first] = MustRegister("A", "r@example.com");
  auto second = service_->Refresh(first.refresh_token);
  ASSERT_OK(second);
  EXPECT_NE(second->refresh_token, first.refresh_token);
  EXPECT_EQ(MustAuth(second->access_token).user, user.id);
  auto third = service_->Refresh(second->refresh_token);
  ASSERT_OK(third);
  // The refresh tokens are stored hashed, never in clear.
  EXPECT_EQ(Column("SELECT CAST(COUNT(*) AS TEXT) FROM refresh_tokens WHERE token_hash = '" +
                   third->refresh_token + "'"),
            "0");
  EXPECT_EQ(Column("SELECT CAST(COUNT(*) AS TEXT) FROM refresh_tokens WHERE token_hash = '" +
                   crypto::Sha256Hex(third->refresh_token) + "'"),
            "1");
}

TEST_P(AccountsTest, ReusedRefreshTokenRevokesTheWholeFamily) {
  auto [user, first] = MustRegister("A", "reuse@example.com");
  auto second = service_->Refresh(first.refresh_token);
  ASSERT_OK(second);
  // An attacker replays the old token: rejected, and the family dies with it...
  auto replay = service_->Refresh(first.refresh_token);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code(), StatusCode::kUnauthenticated);
  // ...so the newest token (perhaps the attacker's) stops working too.
  auto newest = service_->Refresh(second->refresh_token);
  ASSERT_FALSE(newest.ok());
  EXPECT_EQ(newest.error().code(), StatusCode::kUnauthenticated);
  // Another session of the same user (separate family) is unaffected.
  auto other = service_->Login("reuse@example.com", "a long enough password");
  ASSERT_OK(other);
  EXPECT_OK(service_->Refresh(other->refresh_token));
}

TEST_P(AccountsTest, ConcurrentRefreshOfOneTokenSucceedsAtMostOnce) {
  auto [user, first] = MustRegister("A", "race@example.com");
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (service_->Refresh(first.refresh_token).ok()) successes++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(successes.load(), 1);  // the others see it used and revoke the family
}

TEST_P(AccountsTest, LogoutRevokesTheFamily) {
  auto [user, first] = MustRegister("A", "logout@example.com");
  auto second = service_->Refresh(first.refresh_token);
  ASSERT_OK(second);
  ASSERT_OK(service_->Logout(second->refresh_token));
  EXPECT_EQ(service_->Refresh(second->refresh_token).error().code(), StatusCode::kUnauthenticated);
  EXPECT_OK(service_->Logout(second->refresh_token));  // idempotent
  EXPECT_EQ(service_->Logout("not-a-token").code(), StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, ExpiredRefreshTokenIsRejected) {
  auto [user, first] = MustRegister("A", "old@example.com");
  clock_.Advance(30LL * 86400 * kNanosPerSecond);
  EXPECT_EQ(service_->Refresh(first.refresh_token).error().code(), StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, MalformedRefreshTokensAreRejected) {
  for (std::string bad : {std::string(""), std::string("short"), std::string(43, '='),
                          std::string(44, 'A'), std::string(43, 'A'), std::string(10000, 'A')}) {
    auto r = service_->Refresh(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated);
  }
}

TEST_P(AccountsTest, ApiKeyLifecycle) {
  auto [owner, tokens] = MustRegister("A", "keys@example.com");
  Principal p = MustAuth(tokens.access_token);
  auto created = service_->CreateApiKey(p, "ci bot", {}, std::nullopt);
  ASSERT_OK(created);
  const std::string& secret = created->secret;
  EXPECT_EQ(secret.rfind("sk_live_", 0), 0u);
  EXPECT_EQ(secret.size(), 8u + 43u);
  EXPECT_EQ(created->info.prefix, secret.substr(0, 12));
  EXPECT_EQ(created->info.scopes, (std::vector<std::string>{"predict", "read"}));
  // Stored as a SHA-256 hash only.
  EXPECT_EQ(Column("SELECT key_hash FROM api_keys"), crypto::Sha256Hex(secret));

  auto kp = service_->AuthenticateApiKey(secret);
  ASSERT_OK(kp);
  EXPECT_EQ(kp->tenant, owner.tenant);
  EXPECT_EQ(kp->user, owner.id);
  EXPECT_EQ(kp->api_key, created->info.id);
  EXPECT_TRUE(kp->HasScope("predict"));
  EXPECT_FALSE(kp->HasScope("admin"));
  auto me = service_->Me(*kp);
  ASSERT_OK(me);
  EXPECT_EQ(me->email, "keys@example.com");

  auto list = service_->ListApiKeys(p);
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "ci bot");
  ASSERT_TRUE((*list)[0].last_used_at.has_value());
  EXPECT_EQ(*(*list)[0].last_used_at, kStart);

  EXPECT_EQ(service_->AuthenticateApiKey("sk_live_" + std::string(43, 'A')).error().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->AuthenticateApiKey("sk_test_" + secret.substr(8)).error().code(),
            StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, RevokedApiKeyIsRejectedImmediately) {
  auto [owner, tokens] = MustRegister("A", "revoke@example.com");
  Principal p = MustAuth(tokens.access_token);
  auto key = service_->CreateApiKey(p, "k", {}, std::nullopt);
  ASSERT_OK(key);
  ASSERT_OK(service_->AuthenticateApiKey(key->secret));  // now cached
  ASSERT_OK(service_->RevokeApiKey(p, key->info.id));
  auto r = service_->AuthenticateApiKey(key->secret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated);
  auto info = service_->GetApiKey(p, key->info.id);
  ASSERT_OK(info);
  EXPECT_EQ(info->revoked_at, std::optional<UnixNanos>(kStart));
  EXPECT_OK(service_->RevokeApiKey(p, key->info.id));  // idempotent
}

TEST_P(AccountsTest, RevocationReachesOtherProcessesWithinTheCacheTtl) {
  auto [owner, tokens] = MustRegister("A", "ttl@example.com");
  Principal p = MustAuth(tokens.access_token);
  auto key = service_->CreateApiKey(p, "k", {}, std::nullopt);
  ASSERT_OK(key);
  // A second "process": its own Database handle and service (own cache).
  auto other_db = test_db().OpenAnother();
  ASSERT_OK(other_db);
  AccountService other(**other_db, clock_, Config());
  ASSERT_OK(other.AuthenticateApiKey(key->secret));
  ASSERT_OK(service_->RevokeApiKey(p, key->info.id));
  EXPECT_OK(other.AuthenticateApiKey(key->secret));  // stale cache, documented
  clock_.Advance(10 * kNanosPerSecond);              // api_key_cache_ttl_seconds
  EXPECT_EQ(other.AuthenticateApiKey(key->secret).error().code(), StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, ExpiredApiKeyIsRejected) {
  auto [owner, tokens] = MustRegister("A", "exp@example.com");
  Principal p = MustAuth(tokens.access_token);
  EXPECT_EQ(service_->CreateApiKey(p, "k", {}, kStart).error().field(), "expires_at");
  auto key = service_->CreateApiKey(p, "k", {}, kStart + kNanosPerHour);
  ASSERT_OK(key);
  ASSERT_OK(service_->AuthenticateApiKey(key->secret));
  clock_.Advance(kNanosPerHour);  // expiry is checked on cached entries too
  EXPECT_EQ(service_->AuthenticateApiKey(key->secret).error().code(), StatusCode::kUnauthenticated);
  service_->ClearApiKeyCache();
  EXPECT_EQ(service_->AuthenticateApiKey(key->secret).error().code(), StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, LastUsedIsWrittenAtMostOncePerMinute) {
  auto [owner, tokens] = MustRegister("A", "lu@example.com");
  Principal p = MustAuth(tokens.access_token);
  auto key = service_->CreateApiKey(p, "k", {}, std::nullopt);
  ASSERT_OK(key);
  auto last_used = [&] {
    auto info = service_->GetApiKey(p, key->info.id);
    EXPECT_TRUE(info.ok());
    return info.ok() ? info->last_used_at.value_or(-1) : -2;
  };
  EXPECT_EQ(last_used(), -1);
  ASSERT_OK(service_->AuthenticateApiKey(key->secret));
  EXPECT_EQ(last_used(), kStart);
  clock_.Advance(30 * kNanosPerSecond);  // beyond the cache TTL too: a DB lookup, but no write
  ASSERT_OK(service_->AuthenticateApiKey(key->secret));
  EXPECT_EQ(last_used(), kStart);
  clock_.Advance(31 * kNanosPerSecond);
  ASSERT_OK(service_->AuthenticateApiKey(key->secret));
  EXPECT_EQ(last_used(), kStart + 61 * kNanosPerSecond);
}

TEST_P(AccountsTest, ApiKeyScopesAreChecked) {
  auto [owner, tokens] = MustRegister("A", "scopes@example.com");
  Principal p = MustAuth(tokens.access_token);
  EXPECT_EQ(service_->CreateApiKey(p, "k", {"predict", "launch"}, std::nullopt).error().field(),
            "scopes");
  EXPECT_EQ(service_->CreateApiKey(p, "", {}, std::nullopt).error().field(), "name");
  auto read_only = service_->CreateApiKey(p, "ro", {"read"}, std::nullopt);
  ASSERT_OK(read_only);
  auto ro = service_->AuthenticateApiKey(read_only->secret);
  ASSERT_OK(ro);
  // A key without "admin" can't mint keys, revoke keys or manage members.
  EXPECT_EQ(service_->CreateApiKey(*ro, "x", {"read"}, std::nullopt).error().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->RevokeApiKey(*ro, read_only->info.id).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(
      service_->AddMember(*ro, "m@example.com", "0123456789", "M", Role::kMember).error().code(),
      StatusCode::kPermissionDenied);
  EXPECT_OK(service_->ListApiKeys(*ro));
  // An admin key may mint keys, but not with scopes it lacks.
  auto admin_key = service_->CreateApiKey(p, "adm", {"admin", "read"}, std::nullopt);
  ASSERT_OK(admin_key);
  auto adm = service_->AuthenticateApiKey(admin_key->secret);
  ASSERT_OK(adm);
  EXPECT_OK(service_->CreateApiKey(*adm, "child", {"read"}, std::nullopt));
  EXPECT_EQ(service_->CreateApiKey(*adm, "child", {"predict"}, std::nullopt).error().code(),
            StatusCode::kPermissionDenied);
  // Members can't grant "admin".
  ASSERT_OK(service_->AddMember(p, "member@example.com", "0123456789", "Mem", Role::kMember));
  auto ml = service_->Login("member@example.com", "0123456789");
  ASSERT_OK(ml);
  Principal member = MustAuth(ml->access_token);
  EXPECT_EQ(service_->CreateApiKey(member, "k", {"admin"}, std::nullopt).error().code(),
            StatusCode::kPermissionDenied);
  EXPECT_OK(service_->CreateApiKey(member, "k", {}, std::nullopt));
}

TEST_P(AccountsTest, MembersSeeOnlyTheirOwnKeys) {
  auto [owner, tokens] = MustRegister("A", "o@example.com");
  Principal p = MustAuth(tokens.access_token);
  auto owner_key = service_->CreateApiKey(p, "owner's", {}, std::nullopt);
  ASSERT_OK(owner_key);
  ASSERT_OK(service_->AddMember(p, "m@example.com", "0123456789", "Mem", Role::kMember));
  Principal member = MustAuth(service_->Login("m@example.com", "0123456789")->access_token);
  ASSERT_OK(service_->CreateApiKey(member, "mine", {}, std::nullopt));
  auto mine = service_->ListApiKeys(member);
  ASSERT_OK(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].name, "mine");
  EXPECT_EQ(service_->GetApiKey(member, owner_key->info.id).error().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->RevokeApiKey(member, owner_key->info.id).code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->ListApiKeys(p)->size(), 2u);
}

TEST_P(AccountsTest, MemberManagementRules) {
  auto [owner, tokens] = MustRegister("A", "boss@example.com");
  Principal p = MustAuth(tokens.access_token);
  auto admin = service_->AddMember(p, "adm@example.com", "0123456789", "Adm", Role::kAdmin);
  ASSERT_OK(admin);
  EXPECT_EQ(admin->tenant, owner.tenant);
  EXPECT_EQ(
      service_->AddMember(p, "adm@example.com", "0123456789", "X", Role::kMember).error().field(),
      "email");
  EXPECT_EQ(service_->AddMember(p, "bad", "0123456789", "X", Role::kMember).error().field(),
            "email");
  EXPECT_EQ(
      service_->AddMember(p, "op@example.com", "0123456789", "X", Role::kOperator).error().field(),
      "role");
  Principal adm = MustAuth(service_->Login("adm@example.com", "0123456789")->access_token);
  // Admins add members and admins, not owners; and can't change roles.
  EXPECT_EQ(
      service_->AddMember(adm, "o2@example.com", "0123456789", "O2", Role::kOwner).error().code(),
      StatusCode::kPermissionDenied);
  auto mem = service_->AddMember(adm, "mem@example.com", "0123456789", "Mem", Role::kMember);
  ASSERT_OK(mem);
  EXPECT_EQ(service_->UpdateMemberRole(adm, mem->id, Role::kAdmin).error().code(),
            StatusCode::kPermissionDenied);
  // Members can't add anyone.
  Principal m = MustAuth(service_->Login("mem@example.com", "0123456789")->access_token);
  EXPECT_EQ(
      service_->AddMember(m, "x@example.com", "0123456789", "X", Role::kMember).error().code(),
      StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->RemoveMember(m, admin->id).code(), StatusCode::kPermissionDenied);
  // The last owner can't be demoted or removed; admins can't remove owners.
  EXPECT_EQ(service_->UpdateMemberRole(p, owner.id, Role::kAdmin).error().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->RemoveMember(p, owner.id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->RemoveMember(adm, owner.id).code(), StatusCode::kPermissionDenied);
  // With a second owner, the first may step down.
  auto promoted = service_->UpdateMemberRole(p, admin->id, Role::kOwner);
  ASSERT_OK(promoted);
  EXPECT_EQ(promoted->role, Role::kOwner);
  EXPECT_OK(service_->UpdateMemberRole(p, owner.id, Role::kMember));
  auto members = service_->ListMembers(p);
  ASSERT_OK(members);
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[0].email, "boss@example.com");
  EXPECT_EQ((*members)[0].role, Role::kMember);
  EXPECT_EQ(service_->UpdateMemberRole(p, UserId(999999), Role::kAdmin).error().code(),
            StatusCode::kNotFound);
}

TEST_P(AccountsTest, RemovingAMemberRevokesTheirSessionsAndKeys) {
  auto [owner, tokens] = MustRegister("A", "rm@example.com");
  Principal p = MustAuth(tokens.access_token);
  ASSERT_OK(service_->AddMember(p, "leaver@example.com", "0123456789", "L", Role::kMember));
  auto session = service_->Login("leaver@example.com", "0123456789");
  ASSERT_OK(session);
  Principal leaver = MustAuth(session->access_token);
  auto key = service_->CreateApiKey(leaver, "k", {}, std::nullopt);
  ASSERT_OK(key);
  ASSERT_OK(service_->AuthenticateApiKey(key->secret));  // cached
  ASSERT_OK(service_->RemoveMember(p, leaver.user));
  EXPECT_EQ(service_->Refresh(session->refresh_token).error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->AuthenticateApiKey(key->secret).error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Login("leaver@example.com", "0123456789").error().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Me(leaver).error().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->RemoveMember(p, leaver.user).code(), StatusCode::kNotFound);
}

TEST_P(AccountsTest, OperatorsAreSeparateFromTenantUsers) {
  auto op = service_->CreateOperator("Ops@Sinyal.example", "operator password");
  ASSERT_OK(op);
  EXPECT_EQ(op->role, Role::kOperator);
  EXPECT_EQ(service_->CreateOperator("ops@sinyal.example", "operator password").error().field(),
            "email");
  EXPECT_EQ(service_->CreateOperator("ops2@sinyal.example", "short").error().field(), "password");
  // Operators sign in only through LoginOperator.
  EXPECT_FALSE(service_->Login("ops@sinyal.example", "operator password").ok());
  EXPECT_FALSE(service_->LoginOperator("ops@sinyal.example", "wrong password!").ok());
  auto tokens = service_->LoginOperator("ops@sinyal.example", "operator password");
  ASSERT_OK(tokens);
  EXPECT_TRUE(tokens->refresh_token.empty());
  Principal p = MustAuth(tokens->access_token);
  EXPECT_TRUE(p.is_operator());
  EXPECT_FALSE(p.tenant.valid());
  auto me = service_->Me(p);
  ASSERT_OK(me);
  EXPECT_EQ(me->email, "ops@sinyal.example");
  EXPECT_EQ(me->role, Role::kOperator);
  // An operator is not a member of any tenant.
  EXPECT_EQ(service_->ListMembers(p).error().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->CreateApiKey(p, "k", {}, std::nullopt).error().code(),
            StatusCode::kPermissionDenied);
  // A tenant user can't sign in as an operator.
  MustRegister("A", "user@example.com");
  EXPECT_FALSE(service_->LoginOperator("user@example.com", "a long enough password").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountsTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::accounts
