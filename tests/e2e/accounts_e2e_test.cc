// Accounts over real HTTP against the real binary, on SQLite and on PostgreSQL:
// the issue's "must show" flow, tenant isolation by id, and token attacks at the HTTP boundary.
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

class AccountsE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      options.database_url = testing::PostgresTestUrl();
    }
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
  }
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(AccountsE2E, RegisterLoginRefreshApiKeyAndMe) {
  std::string email;
  json reg = RegisterTenant(*client_, "acme", &email);
  ASSERT_TRUE(reg.contains("access_token"));
  EXPECT_EQ(reg["user"]["role"], "owner");
  EXPECT_EQ(reg["user"]["tenant"]["name"], "acme");

  auto login = client_->PostJson("/api/v1/auth/login",
                                 {{"email", email}, {"password", "correct horse battery"}});
  ASSERT_EQ(login.status, 200) << login.body;
  std::string access = login.Json()["access_token"];
  std::string refresh = login.Json()["refresh_token"];

  auto refreshed = client_->PostJson("/api/v1/auth/refresh", {{"refresh_token", refresh}});
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  std::string access2 = refreshed.Json()["access_token"];
  EXPECT_NE(refreshed.Json()["refresh_token"], refresh);

  auto key = client_->PostJson("/api/v1/api-keys", {{"name", "backend"}}, {Bearer(access2)});
  ASSERT_EQ(key.status, 201) << key.body;
  std::string secret = key.Json()["key"];
  EXPECT_EQ(secret.rfind("sk_live_", 0), 0u);

  auto me_jwt = client_->Get("/api/v1/me", {Bearer(access2)});
  ASSERT_EQ(me_jwt.status, 200) << me_jwt.body;
  EXPECT_EQ(me_jwt.Json()["email"], email);
  EXPECT_EQ(me_jwt.Json()["auth"], "access_token");

  auto me_key = client_->Get("/api/v1/me", {Bearer(secret)});
  ASSERT_EQ(me_key.status, 200) << me_key.body;
  EXPECT_EQ(me_key.Json()["auth"], "api_key");
  auto me_header = client_->Get("/api/v1/me", {"X-API-Key: " + secret});
  ASSERT_EQ(me_header.status, 200) << me_header.body;
  EXPECT_EQ(me_header.Json()["tenant"]["id"], me_jwt.Json()["tenant"]["id"]);

  // The key is never shown again.
  auto listed = client_->Get("/api/v1/api-keys", {Bearer(access2)});
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find(secret), std::string::npos);

  // Reusing the first (rotated) refresh token revokes the family: the newest one dies too.
  EXPECT_EQ(client_->PostJson("/api/v1/auth/refresh", {{"refresh_token", refresh}}).status, 401);
  EXPECT_EQ(
      client_
          ->PostJson("/api/v1/auth/refresh", {{"refresh_token", refreshed.Json()["refresh_token"]}})
          .status,
      401);

  // Revoked key: 401 at once.
  int64_t key_id = key.Json()["id"];
  EXPECT_EQ(
      client_
          ->Request("DELETE", "/api/v1/api-keys/" + std::to_string(key_id), "", {Bearer(access2)})
          .status,
      204);
  auto after = client_->Get("/api/v1/me", {Bearer(secret)});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.Header("content-type"), "application/problem+json");
}

TEST_P(AccountsE2E, TenantCannotTouchAnotherTenantsObjectsById) {
  json a = RegisterTenant(*client_, "alpha");
  json b = RegisterTenant(*client_, "bravo");
  std::string token_a = a["access_token"], token_b = b["access_token"];
  auto key_b = client_->PostJson("/api/v1/api-keys",
                                 {{"name", "b-key"}, {"scopes", {"read", "predict", "admin"}}},
                                 {Bearer(token_b)});
  ASSERT_EQ(key_b.status, 201) << key_b.body;
  auto member_b = client_->PostJson(
      "/api/v1/members",
      {{"email", "m-" + UniqueSuffix() + "@bravo.example"}, {"password", "another long one"}},
      {Bearer(token_b)});
  ASSERT_EQ(member_b.status, 201) << member_b.body;
  std::string kid = std::to_string(key_b.Json()["id"].get<int64_t>());
  std::string mid = std::to_string(member_b.Json()["id"].get<int64_t>());
  auto key_a = client_->PostJson(
      "/api/v1/api-keys", {{"name", "a-key"}, {"scopes", {"read", "admin"}}}, {Bearer(token_a)});
  ASSERT_EQ(key_a.status, 201);
  std::string secret_a = key_a.Json()["key"];

  for (const std::string& cred : {Bearer(token_a), "X-API-Key: " + secret_a}) {
    EXPECT_EQ(client_->Get("/api/v1/api-keys/" + kid, {cred}).status, 404) << cred;
    EXPECT_EQ(client_->Request("DELETE", "/api/v1/api-keys/" + kid, "", {cred}).status, 404)
        << cred;
    auto listed = client_->Get("/api/v1/api-keys", {cred});
    EXPECT_EQ(listed.body.find("b-key"), std::string::npos);
    auto members = client_->Get("/api/v1/members", {cred});
    EXPECT_EQ(members.body.find("bravo"), std::string::npos);
  }
  EXPECT_EQ(client_
                ->Request("PATCH", "/api/v1/members/" + mid, R"({"role":"admin"})",
                          {Bearer(token_a), "Content-Type: application/json"})
                .status,
            404);
  EXPECT_EQ(client_->Request("DELETE", "/api/v1/members/" + mid, "", {Bearer(token_a)}).status,
            404);
  // B's objects are untouched.
  EXPECT_EQ(client_->Get("/api/v1/api-keys/" + kid, {Bearer(token_b)}).Json()["revoked_at"],
            nullptr);
  EXPECT_EQ(client_->Get("/api/v1/members", {Bearer(token_b)}).Json()["items"].size(), 2u);
}

TEST_P(AccountsE2E, TokenAttacksAreRejected) {
  json a = RegisterTenant(*client_, "charlie");
  std::string token = a["access_token"];
  auto dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  // base64url of {"alg":"none","typ":"JWT"} and {"alg":"HS512","typ":"JWT"}
  std::string none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".";
  std::string hs512 =
      "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." + payload + "." + token.substr(dot2 + 1);
  std::string tampered = token;
  tampered[dot2 + 2] = tampered[dot2 + 2] == 'A' ? 'B' : 'A';
  for (const std::string& bad : {none, hs512, tampered, std::string("garbage"), std::string("a.b"),
                                 std::string(8000, 'x'), std::string("sk_live_notakey")}) {
    auto r = client_->Get("/api/v1/me", {Bearer(bad)});
    EXPECT_EQ(r.status, 401) << bad.substr(0, 40);
    EXPECT_EQ(r.Json()["type"], "urn:sinyal:problem:unauthenticated");
  }
  EXPECT_EQ(client_->Get("/api/v1/me").status, 401);
  // A valid user token can't call operator endpoints.
  EXPECT_EQ(client_->Get("/api/v1/operator/me", {Bearer(token)}).status, 403);
}

TEST_P(AccountsE2E, CliCreatesOperatorWhoCanSignIn) {
  std::string email = "ops-" + UniqueSuffix() + "@sinyal.example";
  std::vector<std::string> args = {"admin",      "create-operator",   "--email",     email,
                                   "--data-dir", server_->data_dir(), "--log-level", "warn"};
  if (GetParam() == "postgresql") {
    args.push_back("--database");
    args.push_back(testing::PostgresTestUrl());
  }
  std::string out;
  ASSERT_EQ(RunCli(args, "operator passphrase 1\n", &out), 0) << out;
  EXPECT_NE(out.find("operator " + email + " created"), std::string::npos) << out;
  EXPECT_EQ(out.find("operator passphrase"), std::string::npos)
      << "the password must not be echoed";
  // Same email twice: a clear error, non-zero exit.
  EXPECT_NE(RunCli(args, "operator passphrase 1\n", &out), 0);
  EXPECT_NE(out.find("email"), std::string::npos) << out;

  auto login = client_->PostJson("/api/v1/operator/login",
                                 {{"email", email}, {"password", "operator passphrase 1"}});
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_FALSE(login.Json().contains("refresh_token"));
  std::string token = login.Json()["access_token"];
  auto me = client_->Get("/api/v1/operator/me", {Bearer(token)});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Json()["role"], "operator");
  // An operator has no tenant: tenant endpoints refuse it.
  EXPECT_EQ(client_->Get("/api/v1/me", {Bearer(token)}).status, 403);
  // A tenant user's password does not work on the operator login, and vice versa.
  EXPECT_EQ(client_
                ->PostJson("/api/v1/auth/login",
                           {{"email", email}, {"password", "operator passphrase 1"}})
                .status,
            401);
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountsE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
