// The local Midtrans sandbox, SIMULATED (payments/sandbox.h).
#include "payments/sandbox.h"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/html.h"
#include "core/log.h"
#include "core/money.h"
#include "core/time.h"

namespace sinyal::payments {

namespace {

std::string BasicAuthFor(const std::string& key) {
  const std::string plain = key + ":";
  std::string b64(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return "Basic " + b64;
}

// Midtrans's status_code for a transaction status.
std::string StatusCodeFor(const std::string& status) {
  if (status == "pending") return "201";
  if (status == "deny") return "202";
  if (status == "expire") return "407";
  return "200";
}

std::string MidtransTime(UnixNanos t) {
  // "2024-04-01 07:00:00" in Jakarta time (UTC+7), as Midtrans writes it.
  CivilTime c = NanosToCivil(t + 7 * kNanosPerHour);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

int CurlPost(const std::string& url, const std::string& body) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return 0;
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "User-Agent: midtrans-sandbox-SIMULATED/sinyal");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);  // Midtrans's notification timeout
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return static_cast<int>(status);
}

MidtransSandbox::Answer Error(int http, const std::string& message) {
  return {
      http,
      {{"status_code", std::to_string(http)}, {"status_message", message}, {"simulated", true}}};
}

// Midtrans's delays between notification attempts (research.md 1.6).
constexpr int64_t kRetryDelaysMinutes[] = {2, 10, 30, 90, 210};

int RetriesFor(int http) {
  if (http >= 200 && http < 300) return 0;
  if (http == 500) return 1;
  if (http == 503) return 4;
  if (http == 400 || http == 404) return 2;
  if (http == 301 || http == 302 || http == 303) return 0;
  return 5;
}

}  // namespace

const std::vector<std::string>& SandboxActions() {
  static const std::vector<std::string> kActions = {"pay",       "pending", "pay_card",
                                                    "challenge", "accept",  "deny",
                                                    "expire",    "reverse", "chargeback"};
  return kActions;
}

MidtransSandbox::MidtransSandbox(SandboxOptions options, Clock& clock, Sender sender)
    : options_(std::move(options)), clock_(clock), sender_(std::move(sender)) {
  if (!sender_) sender_ = CurlPost;
  thread_ = std::thread([this] { Loop(); });
}

MidtransSandbox::~MidtransSandbox() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool MidtransSandbox::Authorized(std::string_view authorization) const {
  const std::string expected = BasicAuthFor(options_.server_key);
  return authorization.size() == expected.size() &&
         sodium_memcmp(authorization.data(), expected.data(), expected.size()) == 0;
}

MidtransSandbox::Tx* MidtransSandbox::FindLocked(const std::string& key) {
  if (auto it = txs_.find(key); it != txs_.end()) return &it->second;
  if (auto t = tokens_.find(key); t != tokens_.end()) return &txs_.at(t->second);
  return nullptr;
}

nlohmann::json MidtransSandbox::TxJson(const Tx& tx) const {
  const std::string gross = std::to_string(tx.gross_amount) + ".00";
  const std::string code = StatusCodeFor(tx.status);
  nlohmann::json j = {
      {"transaction_time", MidtransTime(tx.created_at)},
      {"transaction_status", tx.status},
      {"transaction_id", tx.transaction_id},
      {"status_message", "midtrans payment notification (SIMULATED by Sinyal's sandbox)"},
      {"status_code", code},
      {"signature_key", SignatureKey(tx.order_id, code, gross, options_.server_key)},
      {"payment_type", tx.payment_type},
      {"order_id", tx.order_id},
      {"merchant_id", "SIMULATED"},
      {"gross_amount", gross},
      {"currency", "IDR"}};
  if (!tx.fraud_status.empty()) j["fraud_status"] = tx.fraud_status;
  if (tx.settled_at != 0) j["settlement_time"] = MidtransTime(tx.settled_at);
  if (tx.payment_type == "bank_transfer") {
    j["va_numbers"] = {
        {{"bank", "bca"},
         {"va_number",
          "12345" + tx.order_id.substr(tx.order_id.size() > 6 ? tx.order_id.size() - 6 : 0)}}};
  }
  if (!tx.refunds.empty()) {
    j["refunds"] = tx.refunds;
    j["refund_amount"] = std::to_string(tx.refunded) + ".00";
  }
  return j;
}

std::vector<std::string> MidtransSandbox::ActionsFor(const Tx& tx) const {
  const std::string& s = tx.status;
  if (s.empty() || s == "pending")
    return {"pay", "pending", "pay_card", "challenge", "deny", "expire"};
  if (s == "deny") return {"pay", "pay_card", "expire"};  // the customer may retry until expiry
  if (s == "capture" && tx.fraud_status == "challenge") return {"accept", "deny"};
  if (s == "settlement" || s == "capture") return {"reverse", "chargeback"};
  if (s == "partial_refund") return {"chargeback"};
  return {};
}

void MidtransSandbox::SetStatusLocked(Tx& tx, std::string status, std::string fraud,
                                      std::vector<nlohmann::json>* out) {
  tx.status = std::move(status);
  tx.fraud_status = std::move(fraud);
  if (tx.status == "settlement") tx.settled_at = clock_.Now();
  tx.history.push_back(tx.status + (tx.fraud_status.empty() ? "" : "/" + tx.fraud_status));
  out->push_back(TxJson(tx));
}

void MidtransSandbox::EnqueueLocked(std::vector<nlohmann::json> notes,
                                    const SandboxActionOptions& o) {
  if (options_.notification_url.empty()) return;
  if (o.reorder) std::reverse(notes.begin(), notes.end());
  const int64_t now = clock_.MonotonicNanos();
  for (const auto& n : notes) {
    for (int i = 0; i <= std::clamp(o.duplicates, 0, 5); ++i) {
      queue_.push_back({now, n.dump(), 0, -1});
    }
  }
  cv_.notify_all();
}

MidtransSandbox::Answer MidtransSandbox::CreateTransaction(std::string_view authorization,
                                                           std::string_view body) {
  if (!Authorized(authorization))
    return Error(401, "Access denied, please check client or server key");
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("transaction_details") ||
      !j["transaction_details"].is_object()) {
    return Error(400, "transaction_details is required");
  }
  const auto& d = j["transaction_details"];
  if (!d.contains("order_id") || !d["order_id"].is_string() ||
      !ValidOrderId(d["order_id"].get<std::string>())) {
    return Error(400, "transaction_details.order_id is invalid");
  }
  if (!d.contains("gross_amount") || !d["gross_amount"].is_number_integer() ||
      d["gross_amount"].get<int64_t>() <= 0) {
    return Error(400, "transaction_details.gross_amount must be a positive integer");
  }
  const std::string order_id = d["order_id"];
  const int64_t gross = d["gross_amount"];
  if (j.contains("item_details")) {
    int64_t sum = 0;
    if (!j["item_details"].is_array()) return Error(400, "item_details must be an array");
    for (const auto& it : j["item_details"]) {
      if (!it.is_object() || !it.contains("price") || !it["price"].is_number_integer() ||
          !it.contains("quantity") || !it["quantity"].is_number_integer()) {
        return Error(400, "item_details need integer price and quantity");
      }
      sum += it["price"].get<int64_t>() * it["quantity"].get<int64_t>();
    }
    if (sum != gross)
      return Error(400, "transaction_details.gross_amount is not equal to the sum of item_details");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (txs_.count(order_id) != 0)
    return Error(400, "transaction_details.order_id has already been taken");
  Tx tx;
  tx.order_id = order_id;
  tx.token = RandomHex(16);
  tx.gross_amount = gross;
  tx.created_at = clock_.Now();
  int64_t minutes = 24 * 60;
  if (j.contains("expiry") && j["expiry"].is_object() && j["expiry"].contains("duration") &&
      j["expiry"]["duration"].is_number_integer()) {
    const std::string unit = j["expiry"].value("unit", "minute");
    const int64_t dur = j["expiry"]["duration"];
    minutes = unit == "day" ? dur * 1440 : unit == "hour" ? dur * 60 : dur;
  }
  tx.expires_at = tx.created_at + minutes * kNanosPerMinute;
  tx.transaction_id = "sim-" + std::to_string(next_tx_++) + "-" + RandomHex(4);
  tokens_[tx.token] = order_id;
  const std::string token = tx.token;
  txs_[order_id] = std::move(tx);
  return {201, {{"token", token}, {"redirect_url", options_.base_url + "/pay/" + token}}};
}

MidtransSandbox::Answer MidtransSandbox::GetStatus(std::string_view authorization,
                                                   const std::string& order_id) {
  if (!Authorized(authorization))
    return Error(401, "Access denied, please check client or server key");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = txs_.find(order_id);
  if (it == txs_.end() || it->second.status.empty())
    return Error(404, "Transaction doesn't exist.");
  return {200, TxJson(it->second)};
}

MidtransSandbox::Answer MidtransSandbox::Cancel(std::string_view authorization,
                                                const std::string& order_id) {
  if (!Authorized(authorization))
    return Error(401, "Access denied, please check client or server key");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = txs_.find(order_id);
  if (it == txs_.end()) return Error(404, "Transaction doesn't exist.");
  Tx& tx = it->second;
  const bool cancellable = tx.status.empty() || tx.status == "pending" || tx.status == "deny" ||
                           (tx.status == "capture" && tx.fraud_status == "challenge");
  if (!cancellable) return Error(412, "Transaction status cannot be updated.");
  std::vector<nlohmann::json> notes;
  if (tx.payment_type.empty()) tx.payment_type = "bank_transfer";
  SetStatusLocked(tx, "cancel", "", &notes);
  EnqueueLocked(std::move(notes), {});
  return {200, TxJson(tx)};
}

MidtransSandbox::Answer MidtransSandbox::Refund(std::string_view authorization,
                                                const std::string& order_id,
                                                std::string_view body) {
  if (!Authorized(authorization))
    return Error(401, "Access denied, please check client or server key");
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("refund_key") || !j["refund_key"].is_string() ||
      !j.contains("amount") || !j["amount"].is_number_integer()) {
    return Error(400, "refund_key and an integer amount are required");
  }
  const std::string key = j["refund_key"];
  const int64_t amount = j["amount"];
  std::lock_guard<std::mutex> lock(mu_);
  auto it = txs_.find(order_id);
  if (it == txs_.end()) return Error(404, "Transaction doesn't exist.");
  Tx& tx = it->second;
  for (const auto& r : tx.refunds) {
    if (r["refund_key"] == key) return {200, TxJson(tx)};  // idempotent on refund_key
  }
  const bool refundable = tx.status == "settlement" || tx.status == "partial_refund" ||
                          (tx.status == "capture" && tx.fraud_status == "accept");
  if (!refundable) return Error(412, "Transaction status cannot be updated.");
  if (amount <= 0 || amount > tx.gross_amount - tx.refunded)
    return Error(412, "Refund amount is more than the remaining amount.");
  tx.refunded += amount;
  tx.refunds.push_back({{"refund_key", key},
                        {"refund_amount", std::to_string(amount) + ".00"},
                        {"reason", j.value("reason", "")},
                        {"created_at", MidtransTime(clock_.Now())}});
  std::vector<nlohmann::json> notes;
  SetStatusLocked(tx, tx.refunded == tx.gross_amount ? "refund" : "partial_refund", tx.fraud_status,
                  &notes);
  EnqueueLocked(std::move(notes), {});
  nlohmann::json out = TxJson(tx);
  out["status_code"] = "200";
  return {200, out};
}

sinyal::Status MidtransSandbox::Act(const std::string& key, const std::string& action,
                                    const SandboxActionOptions& o) {
  std::lock_guard<std::mutex> lock(mu_);
  Tx* tx = FindLocked(key);
  if (tx == nullptr) return Status::NotFound("no such sandbox transaction", "order");
  const auto allowed = ActionsFor(*tx);
  if (std::find(allowed.begin(), allowed.end(), action) == allowed.end()) {
    return Status::FailedPrecondition("action '" + action +
                                          "' does not fit a transaction in status '" +
                                          (tx->status.empty() ? "new" : tx->status) + "'",
                                      "action");
  }
  std::vector<nlohmann::json> notes;
  auto type = [&](const char* fallback) {
    tx->payment_type = o.payment_type.empty() ? fallback : o.payment_type;
  };
  if (action == "pay") {
    type("bank_transfer");
    if (tx->status != "pending") SetStatusLocked(*tx, "pending", "", &notes);
    SetStatusLocked(*tx, "settlement", "", &notes);
  } else if (action == "pending") {
    type("bank_transfer");
    SetStatusLocked(*tx, "pending", "", &notes);
  } else if (action == "pay_card") {
    type("credit_card");
    SetStatusLocked(*tx, "capture", "accept", &notes);
    SetStatusLocked(*tx, "settlement", "accept", &notes);
  } else if (action == "challenge") {
    type("credit_card");
    SetStatusLocked(*tx, "capture", "challenge", &notes);
  } else if (action == "accept") {
    SetStatusLocked(*tx, "capture", "accept", &notes);
    SetStatusLocked(*tx, "settlement", "accept", &notes);
  } else if (action == "deny") {
    if (tx->payment_type.empty()) type("credit_card");
    SetStatusLocked(*tx, "deny", tx->payment_type == "credit_card" ? "deny" : "", &notes);
  } else if (action == "expire") {
    if (tx->payment_type.empty()) type("bank_transfer");
    SetStatusLocked(*tx, "expire", "", &notes);
  } else if (action == "reverse") {
    SetStatusLocked(*tx, "deny", "", &notes);  // settlement -> deny (research.md 1.5 "Reversal")
  } else if (action == "chargeback") {
    SetStatusLocked(*tx, "chargeback", tx->fraud_status, &notes);
  }
  EnqueueLocked(std::move(notes), o);
  LogEvent(spdlog::level::info, "midtrans_sandbox_action",
           {{"order_id", tx->order_id},
            {"action", action},
            {"status", tx->status},
            {"simulated", true}});
  return Status::Ok();
}

Result<nlohmann::json> MidtransSandbox::Describe(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Tx* tx = FindLocked(key);
  if (tx == nullptr) return Status::NotFound("no such sandbox transaction", "order");
  nlohmann::json j = TxJson(*tx);
  j.erase("signature_key");
  j["transaction_status"] = tx->status.empty() ? "new" : tx->status;
  j["token"] = tx->token;
  j["actions"] = ActionsFor(*tx);
  j["history"] = tx->history;
  j["expires_at"] = FormatIso8601(tx->expires_at);
  j["simulated"] = true;
  return j;
}

nlohmann::json MidtransSandbox::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const Tx*> all;
  for (const auto& [_, tx] : txs_) all.push_back(&tx);
  std::sort(all.begin(), all.end(),
            [](const Tx* a, const Tx* b) { return a->created_at > b->created_at; });
  nlohmann::json items = nlohmann::json::array();
  for (const Tx* tx : all) {
    items.push_back({{"order_id", tx->order_id},
                     {"token", tx->token},
                     {"gross_amount", tx->gross_amount},
                     {"transaction_status", tx->status.empty() ? "new" : tx->status},
                     {"history", tx->history}});
  }
  return {{"simulated", true}, {"gateway", "midtrans-sandbox (SIMULATED)"}, {"items", items}};
}

Result<std::string> MidtransSandbox::PayPage(const std::string& token,
                                             const std::string& action_url) {
  SINYAL_ASSIGN_OR_RETURN(nlohmann::json d, Describe(token));
  std::string h;
  h += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  h += "<title>SIMULATED Midtrans payment - Sinyal sandbox</title>";
  h += "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 "
       "1rem}"
       ".banner{background:#fde68a;border:2px solid #b45309;padding:.75rem;font-weight:bold}"
       "button{margin:.25rem;padding:.5rem "
       "1rem;font-size:1rem}dt{font-weight:bold}</style></head><body>";
  h += "<main><p class=\"banner\" role=\"note\" id=\"sandbox-banner\">SIMULATED payment page: "
       "Sinyal's local "
       "Midtrans sandbox. No money moves and this is not Midtrans.</p>";
  h += "<h1>Pay order <span id=\"sandbox-order-id\">" +
       HtmlEscape(d["order_id"].get<std::string>()) + "</span></h1>";
  h += "<dl><dt>Amount</dt><dd id=\"sandbox-amount\">" +
       HtmlEscape(FormatIdr(Idr{d["gross_amount"].get<std::string>().empty()
                                    ? 0
                                    : std::stoll(d["gross_amount"].get<std::string>())})) +
       "</dd>";
  h += "<dt>Status</dt><dd id=\"sandbox-status\" data-status=\"" +
       HtmlEscape(d["transaction_status"].get<std::string>()) + "\">" +
       HtmlEscape(d["transaction_status"].get<std::string>()) + "</dd>";
  h += "<dt>Expires</dt><dd id=\"sandbox-expires\">" +
       HtmlEscape(d["expires_at"].get<std::string>()) + "</dd></dl>";
  static const std::map<std::string, std::string> kLabels = {
      {"pay", "Pay by bank transfer (settles)"},
      {"pending", "Choose bank transfer, don't pay yet"},
      {"pay_card", "Pay by card (accepted)"},
      {"challenge", "Pay by card (fraud challenge)"},
      {"accept", "Approve the challenged card payment"},
      {"deny", "Deny the payment"},
      {"expire", "Let the order expire"},
      {"reverse", "Reverse the settlement (deny after settlement)"},
      {"chargeback", "Charge back"}};
  const auto& actions = d["actions"];
  if (actions.empty()) {
    h += "<p id=\"sandbox-final\">This transaction is finished.</p>";
  } else {
    h += "<form method=\"post\" id=\"sandbox-form\"><fieldset><legend>Delivery options</legend>";
    h += "<label><input type=\"checkbox\" name=\"duplicates\" value=\"1\" "
         "id=\"sandbox-opt-duplicate\"> send each "
         "notification twice</label><br>";
    h += "<label><input type=\"checkbox\" name=\"reorder\" value=\"1\" id=\"sandbox-opt-reorder\"> "
         "deliver in "
         "reverse order</label></fieldset>";
    for (const auto& a : actions) {
      const std::string name = a.get<std::string>();
      h += "<button type=\"submit\" id=\"sandbox-action-" + name + "\" data-action=\"" + name +
           "\" formaction=\"" + HtmlEscape(action_url + "/" + name) + "\">" +
           HtmlEscape(kLabels.count(name) ? kLabels.at(name) : name) + "</button>";
    }
    h += "</form>";
  }
  h += "</main></body></html>";
  return h;
}

void MidtransSandbox::SetNotificationUrl(std::string url) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.notification_url = std::move(url);
}

size_t MidtransSandbox::PendingDeliveries() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + static_cast<size_t>(in_flight_);
}

int64_t MidtransSandbox::DeliveryAttempts() {
  std::lock_guard<std::mutex> lock(mu_);
  return attempts_;
}

void MidtransSandbox::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto next =
        std::min_element(queue_.begin(), queue_.end(),
                         [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    const int64_t now = clock_.MonotonicNanos();
    if (next->due > now) {
      cv_.wait_for(lock, std::chrono::nanoseconds(std::min<int64_t>(next->due - now, 100'000'000)));
      continue;
    }
    Delivery d = *next;
    queue_.erase(next);
    const std::string url = options_.notification_url;
    ++attempts_;
    ++in_flight_;
    lock.unlock();
    const int status = url.empty() ? 200 : sender_(url, d.body);
    lock.lock();
    --in_flight_;
    if (d.retries_left < 0) d.retries_left = RetriesFor(status);
    if (status >= 200 && status < 300) continue;
    if (d.retries_left <= 0 || d.attempt >= 5) {
      LogEvent(spdlog::level::warn, "midtrans_sandbox_delivery_gave_up",
               {{"http_status", status}, {"simulated", true}});
      continue;
    }
    --d.retries_left;
    const double delay_ns = static_cast<double>(kRetryDelaysMinutes[d.attempt]) * kNanosPerMinute *
                            options_.retry_scale;
    ++d.attempt;
    d.due = clock_.MonotonicNanos() + static_cast<int64_t>(delay_ns);
    queue_.push_back(std::move(d));
  }
}

namespace {

class InProcessClient final : public MidtransClient {
 public:
  explicit InProcessClient(MidtransSandbox& sandbox) : sandbox_(sandbox) {
    config_.server_key = sandbox.options().server_key;
    config_.snap_base_url = sandbox.options().base_url + "/snap/v1";
    config_.core_base_url = sandbox.options().base_url;
    config_.simulated = true;
    auth_ = BasicAuthFor(config_.server_key);
  }
  const MidtransConfig& config() const override { return config_; }
  Result<SnapResponse> CreateSnap(const SnapRequest& request) override {
    SINYAL_ASSIGN_OR_RETURN(nlohmann::json body, SnapBody(request, config_));
    auto a = sandbox_.CreateTransaction(auth_, body.dump());
    SINYAL_RETURN_IF_ERROR(Check(a));
    return SnapResponse{a.body["token"].get<std::string>(),
                        a.body["redirect_url"].get<std::string>()};
  }
  Result<Transaction> GetStatus(const std::string& order_id) override {
    auto a = sandbox_.GetStatus(auth_, order_id);
    SINYAL_RETURN_IF_ERROR(Check(a));
    return Transaction::FromJson(a.body, true);
  }
  sinyal::Status Cancel(const std::string& order_id) override {
    return Check(sandbox_.Cancel(auth_, order_id));
  }
  sinyal::Status Refund(const std::string& order_id, const std::string& key, int64_t amount,
                        const std::string& reason) override {
    nlohmann::json body = {{"refund_key", key}, {"amount", amount}, {"reason", reason}};
    return Check(sandbox_.Refund(auth_, order_id, body.dump()));
  }

 private:
  static sinyal::Status Check(const MidtransSandbox::Answer& a) {
    return GatewayHttpStatus(a.http_status, "midtrans sandbox");
  }
  MidtransSandbox& sandbox_;
  MidtransConfig config_;
  std::string auth_;
};

}  // namespace

std::unique_ptr<MidtransClient> MakeInProcessSandboxClient(MidtransSandbox& sandbox) {
  return std::make_unique<InProcessClient>(sandbox);
}

}  // namespace sinyal::payments
