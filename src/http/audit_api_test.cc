// GET /api/v1/audit over the real routes and pipeline (TestApi): every audited security event of
// an organisation reaches its owners, in order, with who did it and to what; members, other
// organisations and API keys without scope admin read nothing; operators read everyone's.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "core/testing/test_util.h"
#include "http/testing/test_api.h"
#include "store/database.h"
#include "store/testing/test_db.h"

namespace sinyal::http {
namespace {

using nlohmann::json;

class AuditApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = store::testing::OpenMemoryDatabase();
    ASSERT_NE(db_, nullptr);
    api_ = std::make_unique<testing::TestApi>(*db_, clock_);
  }
  Response Call(const std::string& method, const std::string& target, const std::string& token,
                const json& body = nullptr) {
    Headers h = {{"authorization", "Bearer " + token}};
    std::string text;
    if (!body.is_null()) {
      h.emplace_back("content-type", "application/json");
      text = body.dump();
    }
    return api_->Call(method, target, std::move(h), std::move(text));
  }
  Response Post(const std::string& target, const json& body) {
    return api_->Call("POST", target, {{"content-type", "application/json"}}, body.dump());
  }

  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<testing::TestApi> api_;
};

TEST_F(AuditApiTest, OwnersReadTheirOrganisationsSecurityEventsOperatorsEveryones) {
  testing::TestApi::Tenant a =
      api_->NewTenant("toko-a", "free");  // register, sign in, API key, plan
  testing::TestApi::Tenant b = api_->NewTenant("toko-b", "free");
  auto me = json::parse(Call("GET", "/api/v1/me", a.token).body);
  const std::string email = me["email"];
  // A wrong password, then a right one.
  EXPECT_EQ(Post("/api/v1/auth/login", {{"email", email}, {"password", "not-the-password"}}).status,
            401);
  EXPECT_EQ(
      Post("/api/v1/auth/login", {{"email", email}, {"password", "correct horse battery"}}).status,
      200);
  // A member added, re-roled and removed; a key created and revoked.
  Response added = Call("POST", "/api/v1/members", a.token,
                        {{"email", "budi@example.com"},
                         {"password", "another-long-passphrase"},
                         {"display_name", "Budi"},
                         {"role", "member"}});
  ASSERT_EQ(added.status, 201) << added.body;
  const int64_t member = json::parse(added.body)["id"];
  ASSERT_EQ(Call("PATCH", "/api/v1/members/" + std::to_string(member), a.token, {{"role", "admin"}})
                .status,
            200);
  Response key = Call("POST", "/api/v1/api-keys", a.token, {{"name", "backend"}});
  ASSERT_EQ(key.status, 201) << key.body;
  const int64_t key_id = json::parse(key.body)["id"];
  const std::string secret = json::parse(key.body)["key"];
  ASSERT_EQ(Call("DELETE", "/api/v1/api-keys/" + std::to_string(key_id), a.token).status / 100, 2);
  ASSERT_EQ(Call("DELETE", "/api/v1/members/" + std::to_string(member), a.token).status / 100, 2);

  Response r = Call("GET", "/api/v1/audit", a.token);
  ASSERT_EQ(r.status, 200) << r.body;
  const json events = json::parse(r.body)["events"];
  std::vector<std::string> kinds;
  for (const json& e : events) {
    EXPECT_EQ(e["tenant_id"], a.id.value()) << e.dump();
    kinds.push_back(e["kind"]);
    EXPECT_EQ(e.dump().find("passphrase"), std::string::npos)
        << "a secret in the audit trail: " << e.dump();
    EXPECT_EQ(e.dump().find(secret), std::string::npos) << "a key in the audit trail: " << e.dump();
    EXPECT_EQ(e.dump().find(a.api_key), std::string::npos)
        << "a key in the audit trail: " << e.dump();
  }
  // Newest first: removal, revocation, creation, role change, addition, the sign-in, the failed
  // one, and NewTenant's API key.
  ASSERT_EQ(kinds.size(), 8u) << r.body;
  EXPECT_EQ(kinds[0], "member_removed");
  EXPECT_EQ(kinds[1], "api_key_revoked");
  EXPECT_EQ(kinds[2], "api_key_created");
  EXPECT_EQ(kinds[3], "member_role_changed");
  EXPECT_EQ(kinds[4], "member_added");
  EXPECT_EQ(kinds[5], "sign_in");
  EXPECT_EQ(kinds[6], "sign_in_failed");
  EXPECT_EQ(kinds[7], "api_key_created");
  EXPECT_EQ(events[3]["data"]["from"], "member");
  EXPECT_EQ(events[3]["data"]["to"], "admin");
  EXPECT_EQ(events[3]["subject"], "user:" + std::to_string(member));
  EXPECT_EQ(events[1]["subject"], "api_key:" + std::to_string(key_id));
  EXPECT_EQ(events[1]["actor"].get<std::string>().rfind("user:", 0), 0u) << events[1].dump();

  // Paging and a kind filter.
  json page = json::parse(Call("GET", "/api/v1/audit?limit=2", a.token).body);
  ASSERT_EQ(page["events"].size(), 2u);
  json next = json::parse(
      Call("GET",
           "/api/v1/audit?limit=2&before=" + std::to_string(page["next_before"].get<int64_t>()),
           a.token)
          .body);
  EXPECT_EQ(next["events"][0]["kind"], "api_key_created");
  json only = json::parse(Call("GET", "/api/v1/audit?kind=sign_in_failed", a.token).body);
  ASSERT_EQ(only["events"].size(), 1u);
  EXPECT_EQ(Call("GET", "/api/v1/audit?kind=coffee", a.token).status, 422);
  EXPECT_EQ(Call("GET", "/api/v1/audit?tenant_id=" + std::to_string(b.id.value()), a.token).status,
            422);

  // Another organisation sees only its own; an API key needs scope admin.
  for (const json& e : json::parse(Call("GET", "/api/v1/audit", b.token).body)["events"]) {
    EXPECT_EQ(e["tenant_id"], b.id.value());
  }
  Response by_key = api_->Call("GET", "/api/v1/audit", {{"x-api-key", a.api_key}});
  EXPECT_EQ(by_key.status, 403) << by_key.body;

  // Operators: every organisation, or one.
  ASSERT_OK(
      api_->accounts().CreateOperator("ops@example.com", "a-long-operator-passphrase").status());
  auto op = api_->accounts().LoginOperator("ops@example.com", "a-long-operator-passphrase");
  ASSERT_OK(op);
  json all = json::parse(Call("GET", "/api/v1/audit?limit=500", op->access_token).body);
  bool saw_a = false, saw_b = false;
  for (const json& e : all["events"]) {
    saw_a |= e["tenant_id"] == a.id.value();
    saw_b |= e["tenant_id"] == b.id.value();
  }
  EXPECT_TRUE(saw_a && saw_b) << all.dump();
  json one = json::parse(
      Call("GET", "/api/v1/audit?tenant_id=" + std::to_string(b.id.value()), op->access_token)
          .body);
  for (const json& e : one["events"]) EXPECT_EQ(e["tenant_id"], b.id.value());
}

}  // namespace
}  // namespace sinyal::http
