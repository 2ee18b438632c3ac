// Payments end to end over real HTTP (issue 11), on SQLite and PostgreSQL: the real `sinyal
// serve` and the real `sinyal midtrans-sandbox` (SIMULATED gateway) as separate processes.
//   - register, checkout Pro, pay on the sandbox's page, the notification arrives, the plan is
//     Pro and the quota and rate limit change at once; renew; upgrade with credit; downgrade at
//     the period end; cancel; refund; a settlement reversed after the grant revokes it;
//   - forged notifications (bad signature, tampered amount, unknown order, replayed old
//     status, wrong content type, 1 MB body): rejected or ignored, the plan unchanged;
//   - crash safety: serve SIGKILLed between receiving the settlement and answering it (before
//     and after its commit); on the gateway's retry the grant happens exactly once;
//   - without keys, serve uses its own sandbox and says SIMULATED in the log and the checkout.
// "The period end" is reached by ageing the tenant's billing account in the database (every
// stored time of its terms moved back), not by waiting a month.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.h"
#include "core/time.h"
#include "e2e/harness.h"
#include "payments/midtrans.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

constexpr const char* kKey = "SB-Mid-server-E2E-test-key";
constexpr const char* kJwt = "e2e-payments-jwt-secret-0123456789abcdef";

// `sinyal midtrans-sandbox` as a child process.
class SandboxProcess {
 public:
  SandboxProcess(int port, int notify_port) : port_(port) {
    const std::string log = (dir_.path() / "sandbox.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<std::string> args = {SinyalBinary(),
                                       "midtrans-sandbox",
                                       "--port",
                                       std::to_string(port),
                                       "--server-key",
                                       kKey,
                                       "--notification-url",
                                       "http://127.0.0.1:" + std::to_string(notify_port) +
                                           "/api/v1/payments/midtrans/notification",
                                       "--retry-scale-permille",
                                       "2"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~SandboxProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool WaitReady() {
    HttpClient c(base());
    for (int i = 0; i < 200; ++i) {
      if (c.Get("/sandbox/midtrans/transactions").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  testing::TempDir dir_;
  int port_;
  pid_t pid_ = -1;
};

class PaymentsE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      url_ = testing::PostgresTestUrl();
    } else {
      url_ = "sqlite://" + (dir_.path() / "payments.db").string();
    }
    server_port_ = FreePort();
    sandbox_ = std::make_unique<SandboxProcess>(FreePort(), server_port_);
    ASSERT_TRUE(sandbox_->WaitReady());
    StartServer({});
    std::string error;
    op_email_ = CreateOperator(url_, (dir_.path() / "cli").string(), &error);
    ASSERT_FALSE(op_email_.empty()) << error;
    op_token_ = OperatorLogin(*client_, op_email_, &error);
    ASSERT_FALSE(op_token_.empty()) << error;
    auto db = store::Database::Open({.url = url_, .pool_size = 1});
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
  }
  void TearDown() override {
    if (db_) db_->Close();
  }
  void StartServer(std::map<std::string, std::string> extra_env) {
    ServerProcess::Options o;
    o.database_url = url_;
    o.port = server_port_;
    o.env = {{"SINYAL_AUTH_JWT_SECRET", kJwt},
             {"SINYAL_MIDTRANS_SERVER_KEY", kKey},
             {"SINYAL_MIDTRANS_SNAP_BASE_URL", sandbox_->base() + "/sandbox/midtrans/snap/v1"},
             {"SINYAL_MIDTRANS_CORE_BASE_URL", sandbox_->base() + "/sandbox/midtrans"}};
    for (auto& [k, v] : extra_env) o.env[k] = v;
    server_ = std::make_unique<ServerProcess>(o);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
  }

  struct Tenant {
    int64_t id = 0;
    std::string token, key;
  };
  Tenant Register() {
    Tenant t;
    json reg = RegisterTenant(*client_, "pay" + UniqueSuffix());
    t.id = reg["user"]["tenant"]["id"];
    t.token = reg["access_token"];
    auto key = client_->PostJson(
        "/api/v1/api-keys", {{"name", "bot"}, {"scopes", {"predict", "read"}}}, {Bearer(t.token)});
    EXPECT_EQ(key.status, 201) << key.body;
    t.key = key.Json()["key"];
    return t;
  }
  json Subscription(const Tenant& t) {
    auto r = client_->Get("/api/v1/billing/subscription", {Bearer(t.token)});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }
  json Checkout(const Tenant& t, const std::string& plan, const std::string& period, long want) {
    auto r = client_->PostJson("/api/v1/billing/checkout", {{"plan", plan}, {"period", period}},
                               {Bearer(t.token)});
    EXPECT_EQ(r.status, want) << r.body;
    return r.Json();
  }
  // The customer acts on the sandbox's page (JSON form of the page's buttons).
  void Act(const std::string& token, const std::string& action, json options = json::object()) {
    HttpClient sb(sandbox_->base());
    auto r = sb.PostJson("/sandbox/midtrans/pay/" + token + "/" + action, options);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Waits (up to 20 s) until the subscription satisfies `pred`.
  json WaitFor(const Tenant& t, const std::function<bool(const json&)>& pred) {
    json s;
    for (int i = 0; i < 200; ++i) {
      s = Subscription(t);
      if (pred(s)) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "condition not reached; subscription: " << s.dump();
    return s;
  }
  json WaitForPlan(const Tenant& t, const std::string& plan) {
    return WaitFor(t, [&](const json& s) { return s["plan"] == plan; });
  }
  std::string OrderStatus(const Tenant& t, const std::string& id) {
    auto r = client_->Get("/api/v1/billing/orders/" + id, {Bearer(t.token)});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().value("status", "");
  }
  // The Free/Pro quota and rate limit as the API shows them to the tenant's key.
  std::pair<json, std::string> QuotaAndRateLimit(const Tenant& t) {
    auto usage = client_->Get("/api/v1/usage", {"X-API-Key: " + t.key});
    EXPECT_EQ(usage.status, 200) << usage.body;
    auto predict = client_->PostJson(
        "/api/v1/business/predict",
        {{"symbol", "NOSUCH"}, {"timeframe", "1h"}, {"prediction_type", "price_direction"}},
        {"X-API-Key: " + t.key});
    return {usage.Json()["quota"], predict.Header("ratelimit-limit")};
  }
  // Moves every stored time of the tenant's terms back by `by`: as if `by` had passed.
  void Age(const Tenant& t, int64_t by) {
    Status st = db_->WithTx([&](soci::session& sql) -> Status {
      long long id = t.id, d = by;
      std::string state;
      sql << "SELECT state FROM billing_accounts WHERE tenant_id = :t", soci::use(id, "t"),
          soci::into(state);
      json s = json::parse(state);
      for (const char* k : {"term_start", "term_end", "grace_until"}) {
        if (s[k].get<int64_t>() != 0) s[k] = s[k].get<int64_t>() - by;
      }
      state = s.dump();
      sql << "UPDATE billing_accounts SET state = :s, term_end = CASE WHEN term_end > 0 THEN "
             "term_end - :d "
             "ELSE 0 END, next_deadline = CASE WHEN next_deadline > 0 THEN next_deadline - :d2 "
             "ELSE 0 END "
             "WHERE tenant_id = :t",
          soci::use(state, "s"), soci::use(d, "d"), soci::use(d, "d2"), soci::use(id, "t");
      sql << "UPDATE term_invoices SET term_start = CASE WHEN term_start > 0 THEN term_start - :a "
             "ELSE 0 END, "
             "term_end = CASE WHEN term_end > 0 THEN term_end - :b ELSE 0 END, "
             "due_at = CASE WHEN due_at > 0 THEN due_at - :c ELSE 0 END WHERE tenant_id = :t",
          soci::use(d, "a"), soci::use(d, "b"), soci::use(d, "c"), soci::use(id, "t");
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  int64_t Count(const std::string& sql_text, int64_t tenant) {
    long long n = -1;
    Status st = db_->WithTx([&](soci::session& sql) -> Status {
      long long t = tenant;
      sql << sql_text, soci::use(t, "t"), soci::into(n);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return n;
  }
  static std::string Signed(const std::string& order_id, const std::string& status,
                            const std::string& code, const std::string& gross,
                            const std::string& key = kKey) {
    return json({{"order_id", order_id},
                 {"transaction_status", status},
                 {"status_code", code},
                 {"gross_amount", gross},
                 {"payment_type", "bank_transfer"},
                 {"signature_key", payments::SignatureKey(order_id, code, gross, key)}})
        .dump();
  }
  HttpResult Notify(const std::string& body, const std::string& content_type = "application/json") {
    return client_->Request("POST", "/api/v1/payments/midtrans/notification", body,
                            {"Content-Type: " + content_type});
  }

  testing::TempDir dir_;
  std::string url_, op_email_, op_token_;
  int server_port_ = 0;
  std::unique_ptr<SandboxProcess> sandbox_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<store::Database> db_;
};

TEST_P(PaymentsE2E, SubscribeRenewUpgradeDowngradeCancelRefundReverse) {
  Tenant t = Register();
  json s = Subscription(t);
  EXPECT_EQ(s["plan"], "free");
  EXPECT_EQ(s["gateway"]["simulated"], true);
  auto [free_quota, free_limit] = QuotaAndRateLimit(t);
  EXPECT_EQ(free_quota, 100);
  EXPECT_EQ(free_limit, "5");

  // ---- Checkout Pro, pay on the sandbox's page, the notification grants it ----
  json co = Checkout(t, "pro", "month", 201);
  EXPECT_EQ(co["kind"], "payment_required");
  EXPECT_EQ(co["invoice"]["lines"]["total_idr"], 299000);
  EXPECT_EQ(co["gateway"]["simulated"], true);
  const std::string order1 = co["order"]["id"], token1 = co["token"];
  const std::string redirect = co["redirect_url"];
  ASSERT_NE(redirect.find("/sandbox/midtrans/pay/"), std::string::npos);
  HttpClient sb(sandbox_->base());
  auto page = sb.Get(redirect.substr(redirect.find("/sandbox/")));
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("SIMULATED"), std::string::npos);
  EXPECT_NE(page.body.find("id=\"sandbox-action-pay\""), std::string::npos);
  // The page's form: pay, each notification sent twice.
  auto form = sb.Request("POST", "/sandbox/midtrans/pay/" + token1 + "/pay", "duplicates=1",
                         {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(form.status, 303);
  WaitForPlan(t, "pro");
  auto [pro_quota, pro_limit] = QuotaAndRateLimit(t);  // at once: no cache delay in this process
  EXPECT_EQ(pro_quota, 2000);
  EXPECT_EQ(pro_limit, "40");
  EXPECT_EQ(OrderStatus(t, order1), "paid");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM payments WHERE tenant_id = :t", t.id), 1);

  // ---- Renewal: the invoice 7 days before the end, paid, the next term follows ----
  Age(t, 25 * kNanosPerDay);
  s = WaitFor(t, [](const json& j) { return !j["open_invoice"].is_null(); });
  ASSERT_EQ(s["open_invoice"]["kind"], "renewal");
  const int renewal = s["open_invoice"]["id"];
  const int first_term = s["term"]["invoice"];
  auto pay = client_->PostJson("/api/v1/billing/invoices/" + std::to_string(renewal) + "/pay",
                               json::object(), {Bearer(t.token)});
  ASSERT_EQ(pay.status, 200) << pay.body;
  Act(pay.Json()["payment"]["token"].get<std::string>(), "pay_card");
  WaitFor(t, [](const json& j) { return j["open_invoice"].is_null(); });
  EXPECT_EQ(Subscription(t)["term"]["invoice"], first_term);  // paid early: starts at the end
  Age(t, 6 * kNanosPerDay);                                   // past the first term's end
  s = WaitFor(t, [&](const json& j) { return j["term"]["invoice"] == renewal; });
  EXPECT_EQ(s["plan"], "pro");
  EXPECT_EQ(s["status"], "active");
  auto invoices = client_->Get("/api/v1/billing/invoices", {Bearer(t.token)});
  ASSERT_EQ(invoices.status, 200);
  const json invoice_list = invoices.Json();
  for (const auto& inv : invoice_list["items"]) {
    if (inv["id"] == first_term) {
      EXPECT_EQ(inv["term"]["end"], s["term"]["start"]);  // no gap
    }
  }

  // ---- Upgrade to Enterprise: the unused Pro time is credited ----
  co = Checkout(t, "enterprise", "month", 201);
  EXPECT_EQ(co["invoice"]["kind"], "upgrade");
  const int64_t credit = co["invoice"]["lines"]["proration_credit_idr"];
  EXPECT_GT(credit, 0);
  EXPECT_LT(credit, 299000);
  EXPECT_EQ(co["invoice"]["lines"]["total_idr"], 4990000 - credit);
  {  // To the rupiah: floor(299.000 x whole seconds left / whole seconds of the term), at checkout.
    auto start = ParseIso8601(s["term"]["start"].get<std::string>());
    auto end = ParseIso8601(s["term"]["end"].get<std::string>());
    auto at = ParseIso8601(co["invoice"]["created_at"].get<std::string>());
    ASSERT_TRUE(start.ok() && end.ok() && at.ok());
    const int64_t left_s = (*end - *at) / 1'000'000'000, term_s = (*end - *start) / 1'000'000'000;
    EXPECT_EQ(credit, 299000 * left_s / term_s) << left_s << " of " << term_s << " s left";
  }
  Act(co["token"].get<std::string>(), "pay");
  WaitForPlan(t, "enterprise");

  // ---- Downgrade to Pro: scheduled for the period end ----
  co = Checkout(t, "pro", "month", 202);
  EXPECT_EQ(co["kind"], "scheduled");
  EXPECT_EQ(Subscription(t)["plan"], "enterprise");
  Age(t, 24 * kNanosPerDay);
  s = WaitFor(t, [](const json& j) { return !j["open_invoice"].is_null(); });
  EXPECT_EQ(s["open_invoice"]["plan"], "pro");
  pay = client_->PostJson(
      "/api/v1/billing/invoices/" + std::to_string(s["open_invoice"]["id"].get<int>()) + "/pay",
      json::object(), {Bearer(t.token)});
  ASSERT_EQ(pay.status, 200) << pay.body;
  Act(pay.Json()["payment"]["token"].get<std::string>(), "pay");
  WaitFor(t, [](const json& j) { return j["open_invoice"].is_null(); });
  EXPECT_EQ(Subscription(t)["plan"], "enterprise");
  Age(t, 8 * kNanosPerDay);
  WaitForPlan(t, "pro");

  // ---- Cancel: at the period end, back to Free ----
  auto cancel = client_->PostJson("/api/v1/billing/cancel", json::object(), {Bearer(t.token)});
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(cancel.Json()["cancel_at_period_end"], true);
  EXPECT_EQ(cancel.Json()["plan"], "pro");
  Age(t, 32 * kNanosPerDay);
  WaitForPlan(t, "free");
  auto [quota_after, limit_after] = QuotaAndRateLimit(t);
  EXPECT_EQ(quota_after, 100);
  EXPECT_EQ(limit_after, "5");

  // ---- Refund: an operator refunds a paid order in full; the plan is revoked ----
  co = Checkout(t, "pro", "month", 201);
  const std::string order_r = co["order"]["id"];
  Act(co["token"].get<std::string>(), "pay_card");
  WaitForPlan(t, "pro");
  auto refund = client_->PostJson("/api/v1/operator/orders/" + order_r + "/refund",
                                  {{"amount_idr", 299000}, {"reason", "customer asked"}},
                                  {Bearer(op_token_)});
  ASSERT_EQ(refund.status, 200) << refund.body;
  EXPECT_EQ(refund.Json()["status"], "refunded");
  WaitForPlan(t, "free");

  // ---- A settlement reversed after the grant (Mandiri bill) revokes it ----
  co = Checkout(t, "pro", "month", 201);
  const std::string order_x = co["order"]["id"];
  Act(co["token"].get<std::string>(), "pay", {{"payment_type", "echannel"}});
  WaitForPlan(t, "pro");
  Act(co["token"].get<std::string>(), "reverse");
  WaitForPlan(t, "free");
  EXPECT_EQ(OrderStatus(t, order_x), "reversed");

  // ---- Every step is an audit event; the money reconciles to the rupiah ----
  auto events = client_->Get("/api/v1/billing/events?limit=1000", {Bearer(t.token)});
  ASSERT_EQ(events.status, 200);
  std::set<std::string> kinds;
  const json event_list = events.Json();
  for (const auto& e : event_list["items"]) kinds.insert(e["kind"].get<std::string>());
  EXPECT_GT(kinds.size(), 10u) << events.body.substr(0, 2000);
  for (const char* k : {"checkout", "invoice_paid", "plan_granted", "renewal_invoiced", "renewed",
                        "upgraded", "downgrade_scheduled", "downgraded", "cancel_scheduled",
                        "cancelled", "refund", "plan_revoked", "reversal"}) {
    EXPECT_TRUE(kinds.count(k)) << k;
  }
  auto ops = client_->Get("/api/v1/operator/tenants/" + std::to_string(t.id) + "/payments",
                          {Bearer(op_token_)});
  ASSERT_EQ(ops.status, 200) << ops.body;
  EXPECT_EQ(ops.Json()["reconciliation"]["ok"], true) << ops.Json()["reconciliation"].dump();
  int64_t cash = 0;
  const json ops_body = ops.Json();
  for (const auto& p : ops_body["payments"]) cash += p["amount_idr"].get<int64_t>();
  EXPECT_EQ(cash, ops.Json()["reconciliation"]["cash_idr"].get<int64_t>())
      << ops.body.substr(0, 3000);
  auto revenue = client_->Get("/api/v1/operator/analytics/subscriptions", {Bearer(op_token_)});
  ASSERT_EQ(revenue.status, 200) << revenue.body;
  EXPECT_EQ(revenue.Json()["reconciliation"]["ok"], true)
      << revenue.Json()["reconciliation"].dump();
  auto orders = client_->Get("/api/v1/operator/tenants/" + std::to_string(t.id) + "/orders",
                             {Bearer(op_token_)});
  ASSERT_EQ(orders.status, 200);
  EXPECT_GE(orders.Json()["items"].size(), 6u);
}

// An unpaid renewal, each step visible in the API: the renewal invoice with its payment link
// (made by serve's payments round) 7 days before the term end; at the end the tenant is
// past_due and keeps Pro until grace_until (3 days); then it falls back to Free, the invoice is
// void, the order no longer payable, and quota and rate limit are Free's at once.
TEST_P(PaymentsE2E, UnpaidRenewalGoesPastDueThenFallsBackToFree) {
  server_.reset();
  StartServer({{"SINYAL_PAYMENTS_RECONCILE_INTERVAL_SECONDS", "5"}});
  Tenant t = Register();
  json co = Checkout(t, "pro", "month", 201);
  Act(co["token"].get<std::string>(), "pay_card");
  json s = WaitForPlan(t, "pro");

  // 25 days on: the renewal invoice is open, due at the term end, the tenant still active.
  Age(t, 25 * kNanosPerDay);
  s = WaitFor(t, [](const json& j) { return !j["open_invoice"].is_null(); });
  EXPECT_EQ(s["status"], "active");
  EXPECT_TRUE(s["grace_until"].is_null());
  ASSERT_EQ(s["open_invoice"]["kind"], "renewal");
  EXPECT_EQ(s["open_invoice"]["plan"], "pro");
  EXPECT_EQ(s["open_invoice"]["status"], "open");
  EXPECT_EQ(s["open_invoice"]["lines"]["total_idr"], 299000);
  const int renewal = s["open_invoice"]["id"];
  // The payments round gives it a payment link on the (SIMULATED) gateway.
  json renewal_order;
  for (int i = 0; i < 200 && renewal_order.is_null(); ++i) {
    auto orders = client_->Get("/api/v1/billing/orders", {Bearer(t.token)});
    ASSERT_EQ(orders.status, 200) << orders.body;
    const json list = orders.Json();
    for (const auto& o : list["items"]) {
      if (o["invoice"] == renewal && !o["payment"].is_null()) renewal_order = o;
    }
    if (renewal_order.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(renewal_order.is_null()) << "no payment link for the renewal invoice";
  EXPECT_EQ(renewal_order["gross_amount"], 299000);
  EXPECT_EQ(renewal_order["simulated"], true);
  EXPECT_NE(
      renewal_order["payment"]["redirect_url"].get<std::string>().find("/sandbox/midtrans/pay/"),
      std::string::npos);

  // Past the term end, unpaid: past_due, still Pro, grace until 3 days after the term end.
  Age(t, 6 * kNanosPerDay);
  s = WaitFor(t, [](const json& j) { return j["status"] == "past_due"; });
  EXPECT_EQ(s["plan"], "pro");
  ASSERT_FALSE(s["grace_until"].is_null());
  auto grace = ParseIso8601(s["grace_until"].get<std::string>());
  auto end_now = ParseIso8601(s["term"]["end"].get<std::string>());
  ASSERT_TRUE(grace.ok() && end_now.ok());
  EXPECT_EQ(*grace - *end_now, 3 * kNanosPerDay);
  EXPECT_EQ(s["open_invoice"]["id"], renewal);
  auto [quota_grace, limit_grace] = QuotaAndRateLimit(t);
  EXPECT_EQ(quota_grace, 2000);
  EXPECT_EQ(limit_grace, "40");

  // Grace over: Free, the renewal invoice void, its order no longer payable.
  Age(t, 3 * kNanosPerDay);
  s = WaitForPlan(t, "free");
  EXPECT_EQ(s["status"], "free");
  EXPECT_TRUE(s["term"].is_null());
  EXPECT_TRUE(s["grace_until"].is_null());
  EXPECT_TRUE(s["open_invoice"].is_null());
  auto [quota_free, limit_free] = QuotaAndRateLimit(t);
  EXPECT_EQ(quota_free, 100);
  EXPECT_EQ(limit_free, "5");
  auto inv = client_->Get("/api/v1/billing/invoices", {Bearer(t.token)});
  ASSERT_EQ(inv.status, 200);
  const json inv_list = inv.Json();
  bool saw = false;
  for (const auto& i : inv_list["items"]) {
    if (i["id"] != renewal) continue;
    saw = true;
    EXPECT_EQ(i["status"], "void");
  }
  EXPECT_TRUE(saw);
  json order_after;
  for (int i = 0; i < 200; ++i) {
    auto r = client_->Get("/api/v1/billing/orders/" + renewal_order["id"].get<std::string>(),
                          {Bearer(t.token)});
    ASSERT_EQ(r.status, 200) << r.body;
    order_after = r.Json();
    if (order_after["payment"].is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(order_after["payment"].is_null()) << order_after.dump();

  // The audit trail: renewal_invoiced -> past_due -> invoice_void -> lapsed, in that order.
  auto events = client_->Get("/api/v1/billing/events?limit=1000", {Bearer(t.token)});
  ASSERT_EQ(events.status, 200);
  std::vector<std::string> kinds;
  const json event_list = events.Json();
  for (const auto& e : event_list["items"])
    kinds.insert(kinds.begin(), e["kind"].get<std::string>());  // oldest first
  auto pos = [&](const std::string& k) {
    return std::find(kinds.begin(), kinds.end(), k) - kinds.begin();
  };
  const auto n = static_cast<std::ptrdiff_t>(kinds.size());
  ASSERT_LT(pos("renewal_invoiced"), n) << events.body.substr(0, 2000);
  ASSERT_LT(pos("past_due"), n);
  ASSERT_LT(pos("lapsed"), n);
  EXPECT_LT(pos("renewal_invoiced"), pos("past_due"));
  EXPECT_LT(pos("past_due"), pos("lapsed"));
}

TEST_P(PaymentsE2E, ForgedNotificationsAreRejectedOrIgnored) {
  Tenant t = Register();
  json co = Checkout(t, "pro", "month", 201);
  const std::string order = co["order"]["id"];
  const std::string gross = "299000.00";
  // Bad signature.
  auto r = Notify(Signed(order, "settlement", "200", gross, "some-other-key"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Json()["field"], "signature_key");
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  // Tampered amount (the signature was made for another amount).
  json tampered = json::parse(Signed(order, "settlement", "200", gross));
  tampered["gross_amount"] = "1000.00";
  EXPECT_EQ(Notify(tampered.dump()).status, 401);
  // Unknown order, correctly signed.
  EXPECT_EQ(Notify(Signed("sny-999999-1-00000000", "settlement", "200", gross)).status, 404);
  // Wrong content type.
  EXPECT_EQ(Notify(Signed(order, "settlement", "200", gross), "text/plain").status, 415);
  // A 1 MB body.
  json big = json::parse(Signed(order, "settlement", "200", gross));
  big["padding"] = std::string(1 << 20, 'x');
  EXPECT_EQ(Notify(big.dump()).status, 413);
  // A correctly signed settlement the gateway does not confirm (nothing was paid): nothing
  // is granted, and 503 lets Midtrans retry later.
  EXPECT_EQ(Notify(Signed(order, "settlement", "200", gross)).status, 503);
  EXPECT_EQ(Subscription(t)["plan"], "free");
  // Replayed old status: pay, refund in full (Free again), then replay the genuine
  // "settlement": the status API says refund, already applied; the plan stays Free.
  Act(co["token"].get<std::string>(), "pay_card");
  WaitForPlan(t, "pro");
  auto refund =
      client_->PostJson("/api/v1/operator/orders/" + order + "/refund",
                        {{"amount_idr", 299000}, {"reason", "test"}}, {Bearer(op_token_)});
  ASSERT_EQ(refund.status, 200) << refund.body;
  WaitForPlan(t, "free");
  r = Notify(Signed(order, "settlement", "200", gross));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["outcome"], "duplicate");
  EXPECT_EQ(Subscription(t)["plan"], "free");
  EXPECT_EQ(
      Count("SELECT COUNT(*) FROM payments WHERE tenant_id = :t AND kind = 'settlement'", t.id), 1);
}

// serve is SIGKILLed while it applies the settlement (before or after the commit), so the
// gateway gets no answer; after a restart the gateway's retry grants the plan exactly once.
TEST_P(PaymentsE2E, KilledBetweenReceivingAndAnsweringGrantsExactlyOnce) {
  for (const std::string fault : {"kill_after_commit", "kill_before_commit"}) {
    SCOPED_TRACE(fault);
    server_.reset();
    StartServer({{"SINYAL_TEST_PAYMENTS_FAULT", fault}});
    Tenant t = Register();
    json co = Checkout(t, "pro", "month", 201);
    Act(co["token"].get<std::string>(), "pay");
    // The server dies applying the settlement.
    EXPECT_NE(server_->Wait(20000), -1) << "the fault did not fire";
    EXPECT_NE(server_->Log().find("test_fault"), std::string::npos);
    // Restart without the fault, same port and database: the gateway's retries arrive.
    server_.reset();
    StartServer({});
    WaitForPlan(t, "pro");
    std::this_thread::sleep_for(std::chrono::seconds(2));  // later retries: duplicates
    EXPECT_EQ(
        Count("SELECT COUNT(*) FROM payments WHERE tenant_id = :t AND kind = 'settlement'", t.id),
        1);
    EXPECT_EQ(
        Count("SELECT COUNT(*) FROM billing_events WHERE tenant_id = :t AND kind = 'plan_granted'",
              t.id),
        1);
    EXPECT_EQ(
        Count("SELECT COUNT(*) FROM term_invoices WHERE tenant_id = :t AND status = 'paid'", t.id),
        1);
    EXPECT_EQ(OrderStatus(t, co["order"]["id"]), "paid");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PaymentsE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// Without Midtrans keys, serve runs its own sandbox and says so.
TEST(PaymentsNoKeysE2E, ServeUsesItsOwnSandboxAndSaysSimulated) {
  ServerProcess server({});
  std::string why;
  ASSERT_TRUE(server.Start(&why)) << why;
  HttpClient client(server.base_url());
  // /plans shows the yearly prices and Pro's graduated overage bands.
  auto plans = client.Get("/api/v1/plans");
  ASSERT_EQ(plans.status, 200);
  const json plan_list = plans.Json();
  bool saw_pro = false;
  for (const auto& p : plan_list["items"]) {
    if (p["name"] != "pro") continue;
    saw_pro = true;
    EXPECT_EQ(p["yearly_price_idr"], 2990000);
    EXPECT_EQ(p["overage_bands"],
              json::parse(R"([{"up_to":10000,"price_idr":250},{"up_to":50000,"price_idr":200},
                                                   {"up_to":null,"price_idr":150}])"));
  }
  EXPECT_TRUE(saw_pro);
  json reg = RegisterTenant(client, "nokeys" + UniqueSuffix());
  const std::string token = reg["access_token"];
  auto r = client.PostJson("/api/v1/billing/checkout", {{"plan", "pro"}, {"period", "year"}},
                           {Bearer(token)});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Json()["gateway"]["simulated"], true);
  EXPECT_NE(r.Json()["gateway"]["note"].get<std::string>().find("SIMULATED"), std::string::npos);
  EXPECT_EQ(r.Json()["invoice"]["lines"]["total_idr"], 2990000);
  EXPECT_NE(server.Log().find("midtrans_simulated"), std::string::npos);
  const std::string url = r.Json()["redirect_url"];
  ASSERT_EQ(url.rfind(server.base_url() + "/sandbox/midtrans/pay/", 0), 0u) << url;
  auto act = client.PostJson(url.substr(server.base_url().size()) + "/pay_card", json::object());
  ASSERT_EQ(act.status, 200) << act.body;
  for (int i = 0; i < 100; ++i) {
    auto s = client.Get("/api/v1/billing/subscription", {Bearer(token)});
    if (s.Json()["plan"] == "pro") {
      EXPECT_EQ(s.Json()["period"], "year");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "the in-process sandbox's notification did not grant the plan: " << server.Log();
}

}  // namespace
}  // namespace sinyal::e2e
