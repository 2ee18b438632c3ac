// Midtrans wire contract and libcurl client (payments/midtrans.h).
#include "payments/midtrans.h"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace sinyal::payments {

const std::vector<std::string>& DefaultEnabledPayments() {
  static const std::vector<std::string> kDefault = {"credit_card", "bca_va",    "bni_va",
                                                    "bri_va",      "echannel",  "permata_va",
                                                    "gopay",       "shopeepay", "other_qris"};
  return kDefault;
}

std::string SignatureKey(std::string_view order_id, std::string_view status_code,
                         std::string_view gross_amount, std::string_view server_key) {
  if (sodium_init() < 0) return std::string();
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  for (std::string_view part : {order_id, status_code, gross_amount, server_key}) {
    crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(part.data()),
                              part.size());
  }
  unsigned char out[crypto_hash_sha512_BYTES];
  crypto_hash_sha512_final(&st, out);
  char hex[crypto_hash_sha512_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return std::string(hex, crypto_hash_sha512_BYTES * 2);
}

bool VerifySignature(std::string_view order_id, std::string_view status_code,
                     std::string_view gross_amount, std::string_view server_key,
                     std::string_view given) {
  const std::string expected = SignatureKey(order_id, status_code, gross_amount, server_key);
  if (expected.empty() || given.size() != expected.size()) return false;
  // Hex from Midtrans is lower case; compare case-insensitively without branching on content.
  std::string lower(given);
  for (char& c : lower) c = static_cast<char>(c | ((c >= 'A' && c <= 'F') ? 0x20 : 0));
  return sodium_memcmp(lower.data(), expected.data(), expected.size()) == 0;
}

std::string RandomHex(size_t bytes) {
  if (sodium_init() < 0) return "0";
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

bool ValidOrderId(std::string_view id) {
  if (id.empty() || id.size() > 50) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '~' || c == '.';
  });
}

Result<int64_t> ParseGrossAmount(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("must be whole rupiah such as \"10000.00\"", "gross_amount");
  };
  std::string_view whole = text;
  if (auto dot = text.find('.'); dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 2 || frac.find_first_not_of('0') != std::string_view::npos) {
      return bad();
    }
    whole = text.substr(0, dot);
  }
  if (whole.empty() || whole.size() > 15 ||
      whole.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad();
  }
  int64_t v = 0;
  for (char c : whole) v = v * 10 + (c - '0');
  return v;
}

Result<nlohmann::json> SnapBody(const SnapRequest& r, const MidtransConfig& config) {
  if (!ValidOrderId(r.order_id)) {
    return Status::InvalidArgument("order_id must be 1-50 of A-Z a-z 0-9 - _ ~ .", "order_id");
  }
  int64_t sum = 0;
  nlohmann::json items = nlohmann::json::array();
  for (const SnapItem& it : r.items) {
    sum += it.price * it.quantity;
    items.push_back({{"id", it.id},
                     {"price", it.price},
                     {"quantity", it.quantity},
                     {"name", it.name.substr(0, 50)}});
  }
  if (r.gross_amount <= 0 || sum != r.gross_amount) {
    return Status::InvalidArgument("gross_amount must be positive and equal the items' sum",
                                   "gross_amount");
  }
  nlohmann::json body = {
      {"transaction_details", {{"order_id", r.order_id}, {"gross_amount", r.gross_amount}}},
      {"item_details", items},
      {"customer_details",
       {{"first_name", r.customer_first_name.substr(0, 50)}, {"email", r.customer_email}}},
      {"enabled_payments", config.enabled_payments},
      {"expiry", {{"unit", "minute"}, {"duration", r.expiry_minutes}}}};
  if (!r.expiry_start_time.empty()) body["expiry"]["start_time"] = r.expiry_start_time;
  if (!config.finish_url.empty()) body["callbacks"] = {{"finish", config.finish_url}};
  return body;
}

Result<Transaction> Transaction::FromJson(const nlohmann::json& j, bool need_signature) {
  if (!j.is_object()) return Status::InvalidArgument("must be a JSON object", "body");
  Transaction t;
  auto str = [&](const char* name, std::string* out, bool required) -> Status {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
      if (required) return Status::InvalidArgument("is required", name);
      return Status::Ok();
    }
    if (!it->is_string()) return Status::InvalidArgument("must be a string", name);
    *out = it->get<std::string>();
    if (out->size() > 512) return Status::InvalidArgument("is too long", name);
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(str("order_id", &t.order_id, true));
  SINYAL_RETURN_IF_ERROR(str("transaction_status", &t.transaction_status, true));
  SINYAL_RETURN_IF_ERROR(str("status_code", &t.status_code, true));
  SINYAL_RETURN_IF_ERROR(str("gross_amount", &t.gross_amount, true));
  SINYAL_RETURN_IF_ERROR(str("signature_key", &t.signature_key, need_signature));
  SINYAL_RETURN_IF_ERROR(str("fraud_status", &t.fraud_status, false));
  SINYAL_RETURN_IF_ERROR(str("payment_type", &t.payment_type, false));
  SINYAL_RETURN_IF_ERROR(str("transaction_id", &t.transaction_id, false));
  SINYAL_RETURN_IF_ERROR(str("transaction_time", &t.transaction_time, false));
  SINYAL_RETURN_IF_ERROR(str("settlement_time", &t.settlement_time, false));
  SINYAL_RETURN_IF_ERROR(str("currency", &t.currency, false));
  // Automatic Fee Imposition: metadata.extra_info.gross_amount_info.original_amount.
  const nlohmann::json* m = &j;
  for (const char* key : {"metadata", "extra_info", "gross_amount_info"}) {
    if (m == nullptr || !m->is_object() || !m->contains(key)) {
      m = nullptr;
      break;
    }
    m = &(*m)[key];
  }
  if (m != nullptr && m->is_object() && m->contains("original_amount")) {
    const nlohmann::json& o = (*m)["original_amount"];
    if (o.is_number_integer()) t.original_amount = o.get<int64_t>();
    if (o.is_string()) {
      if (auto v = ParseGrossAmount(o.get<std::string>()); v.ok()) t.original_amount = *v;
    }
  }
  if (auto it = j.find("refunds"); it != j.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) continue;
      GatewayRefund g;
      if (r.contains("refund_key") && r["refund_key"].is_string()) g.key = r["refund_key"];
      const nlohmann::json& a = r.contains("refund_amount") ? r["refund_amount"] : nlohmann::json();
      if (a.is_string()) {
        if (auto v = ParseGrossAmount(a.get<std::string>()); v.ok()) g.amount = *v;
      } else if (a.is_number_integer()) {
        g.amount = a.get<int64_t>();
      }
      if (!g.key.empty() && g.amount > 0) t.refunds.push_back(std::move(g));
    }
  }
  if (!ValidOrderId(t.order_id))
    return Status::InvalidArgument("is not a valid order id", "order_id");
  return t;
}

GatewayOutcome Classify(std::string_view status, std::string_view fraud) {
  if (status == "settlement") return GatewayOutcome::kSettled;
  if (status == "capture") {
    if (fraud == "challenge") return GatewayOutcome::kChallenge;
    if (fraud == "deny") return GatewayOutcome::kDenied;
    return GatewayOutcome::kSettled;  // accept, or absent on low-risk channels
  }
  if (status == "pending") return GatewayOutcome::kPending;
  if (status == "deny") return GatewayOutcome::kDenied;
  if (status == "cancel" || status == "expire" || status == "failure")
    return GatewayOutcome::kFailed;
  if (status == "refund" || status == "partial_refund") return GatewayOutcome::kRefunded;
  if (status == "chargeback") return GatewayOutcome::kChargeback;
  if (status == "partial_chargeback") return GatewayOutcome::kPartialChargeback;
  return GatewayOutcome::kIgnored;
}

std::string_view GatewayOutcomeName(GatewayOutcome o) {
  switch (o) {
    case GatewayOutcome::kPending:
      return "pending";
    case GatewayOutcome::kChallenge:
      return "challenge";
    case GatewayOutcome::kSettled:
      return "settled";
    case GatewayOutcome::kDenied:
      return "denied";
    case GatewayOutcome::kFailed:
      return "failed";
    case GatewayOutcome::kRefunded:
      return "refunded";
    case GatewayOutcome::kChargeback:
      return "chargeback";
    case GatewayOutcome::kPartialChargeback:
      return "partial_chargeback";
    case GatewayOutcome::kIgnored:
      return "ignored";
  }
  return "ignored";
}

Status GatewayHttpStatus(long status, std::string_view what) {
  const std::string op(what);
  if (status >= 200 && status < 300) return Status::Ok();
  if (status == 404) return Status::NotFound(op + ": not found", "order_id");
  if (status == 401) return Status::Unauthenticated(op + ": access denied (check the server key)");
  if (status >= 500) return Status::Unavailable(op + ": HTTP " + std::to_string(status));
  return Status::InvalidArgument(op + ": HTTP " + std::to_string(status));
}

namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (1u << 20)) return 0;  // a gateway answer is small: cap at 1 MiB
  s->append(data, size * n);
  return size * n;
}

struct HttpAnswer {
  long status = 0;
  std::string body;
};

class CurlMidtransClient final : public MidtransClient {
 public:
  explicit CurlMidtransClient(MidtransConfig config) : config_(std::move(config)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  const MidtransConfig& config() const override { return config_; }

  Result<SnapResponse> CreateSnap(const SnapRequest& request) override {
    SINYAL_ASSIGN_OR_RETURN(nlohmann::json body, SnapBody(request, config_));
    SINYAL_ASSIGN_OR_RETURN(HttpAnswer a, Call("POST", config_.snap_base_url + "/transactions",
                                               body.dump(), "snap create"));
    SINYAL_RETURN_IF_ERROR(Check(a, "snap create"));
    auto j = nlohmann::json::parse(a.body, nullptr, false);
    if (!j.is_object() || !j.contains("token") || !j["token"].is_string() ||
        !j.contains("redirect_url") || !j["redirect_url"].is_string()) {
      return Status::Unavailable("midtrans snap create: unexpected answer");
    }
    return SnapResponse{j["token"].get<std::string>(), j["redirect_url"].get<std::string>()};
  }

  Result<Transaction> GetStatus(const std::string& order_id) override {
    if (!ValidOrderId(order_id)) return Status::InvalidArgument("invalid order id", "order_id");
    SINYAL_ASSIGN_OR_RETURN(
        HttpAnswer a,
        Call("GET", config_.core_base_url + "/v2/" + order_id + "/status", "", "status"));
    SINYAL_RETURN_IF_ERROR(Check(a, "status"));
    auto j = nlohmann::json::parse(a.body, nullptr, false);
    // The JSON status_code is what counts: 404 = no payment chosen yet on Snap; 407 = expired
    // (an answer, research.md 1.3); other >= 400 are errors.
    if (j.is_object() && j.contains("status_code") && j["status_code"].is_string()) {
      const std::string code = j["status_code"];
      if (code == "404")
        return Status::NotFound("midtrans status: transaction not found", "order_id");
      if (code == "401") return Status::Unauthenticated("midtrans status: access denied");
      if (code >= "500" && code.size() == 3) return Status::Unavailable("midtrans status: " + code);
    }
    auto t = Transaction::FromJson(j, /*need_signature=*/true);
    if (!t.ok())
      return Status::Unavailable("midtrans status: unexpected answer (" + t.error().field() + ")");
    return t;
  }

  sinyal::Status Cancel(const std::string& order_id) override {
    if (!ValidOrderId(order_id)) return Status::InvalidArgument("invalid order id", "order_id");
    SINYAL_ASSIGN_OR_RETURN(
        HttpAnswer a,
        Call("POST", config_.core_base_url + "/v2/" + order_id + "/cancel", "", "cancel"));
    return Check(a, "cancel");
  }

  sinyal::Status Refund(const std::string& order_id, const std::string& refund_key, int64_t amount,
                        const std::string& reason) override {
    if (!ValidOrderId(order_id)) return Status::InvalidArgument("invalid order id", "order_id");
    nlohmann::json body = {
        {"refund_key", refund_key}, {"amount", amount}, {"reason", reason.substr(0, 200)}};
    SINYAL_ASSIGN_OR_RETURN(
        HttpAnswer a,
        Call("POST", config_.core_base_url + "/v2/" + order_id + "/refund", body.dump(), "refund"));
    SINYAL_RETURN_IF_ERROR(Check(a, "refund"));
    auto j = nlohmann::json::parse(a.body, nullptr, false);
    if (j.is_object() && j.contains("status_code") && j["status_code"].is_string()) {
      const std::string code = j["status_code"];
      if (code != "200" && code != "201") {
        return Status::FailedPrecondition("midtrans refund refused (status_code " + code + ")");
      }
    }
    return Status::Ok();
  }

 private:
  static sinyal::Status Check(const HttpAnswer& a, const char* what) {
    return GatewayHttpStatus(a.status, std::string("midtrans ") + what);
  }

  Result<HttpAnswer> Call(const char* method, const std::string& url, const std::string& body,
                          const char* what) {
    CURL* c = curl_easy_init();
    if (c == nullptr) return Status::Unavailable("midtrans: no curl handle");
    HttpAnswer out;
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "User-Agent: sinyal-payments/0.1");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, config_.server_key.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(config_.timeout_ms, 2000)));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
    if (std::string_view(method) == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      // curl's text names the failure (timeout, refused), never the credentials.
      return Status::Unavailable(std::string("midtrans ") + what + ": " + curl_easy_strerror(rc));
    }
    return out;
  }

  MidtransConfig config_;
};

}  // namespace

Result<std::unique_ptr<MidtransClient>> MakeMidtransClient(MidtransConfig config) {
  if (config.server_key.empty()) {
    return Status::InvalidArgument("a Midtrans server key is required", "midtrans.server_key");
  }
  for (const std::string* url : {&config.snap_base_url, &config.core_base_url}) {
    if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
      return Status::InvalidArgument("must be an http(s) URL", "midtrans.base_url");
    }
    while (!url->empty() && url->back() == '/') const_cast<std::string*>(url)->pop_back();
  }
  if (config.timeout_ms < 100 || config.timeout_ms > 15000) {
    return Status::InvalidArgument("must be in [100, 15000] ms", "midtrans.timeout_ms");
  }
  return std::unique_ptr<MidtransClient>(new CurlMidtransClient(std::move(config)));
}

}  // namespace sinyal::payments
