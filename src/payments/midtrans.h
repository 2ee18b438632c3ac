// Midtrans: the wire contract (../shared/notes/research.md section 1) and a client over libcurl.
//
//   Snap     POST {snap}/transactions              -> 201 {"token","redirect_url"}
//   Core API GET  {core}/v2/{order_id}/status      -> the transaction, same shape as a notification
//            POST {core}/v2/{order_id}/cancel
//            POST {core}/v2/{order_id}/refund      {"refund_key","amount","reason"}
// Auth: HTTP Basic with the server key as the user and an empty password. Headers: Accept and
// Content-Type application/json. Notifications are verified with SignatureKey (SHA-512 of
// order_id + status_code + gross_amount + server key, hex) compared in constant time.
//
// The server key is a secret: it is never logged, never put in a Status message, never sent
// anywhere but in the Authorization header to the configured base URLs. Errors from the client
// name the operation and the HTTP status or transport failure only.
//
// Thread safety: MidtransClient implementations are thread-safe (one curl handle per call).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sinyal::payments {

// Production and sandbox base URLs (research.md 1.1).
inline constexpr std::string_view kSnapProductionUrl = "https://app.midtrans.com/snap/v1";
inline constexpr std::string_view kSnapSandboxUrl = "https://app.sandbox.midtrans.com/snap/v1";
inline constexpr std::string_view kCoreProductionUrl = "https://api.midtrans.com";
inline constexpr std::string_view kCoreSandboxUrl = "https://api.sandbox.midtrans.com";

// Default Snap channels (issue 11): card, BCA/BNI/BRI/Permata VA, Mandiri bill (echannel),
// GoPay, ShopeePay and any QRIS app. OVO is not a Midtrans channel (its users pay by QRIS).
const std::vector<std::string>& DefaultEnabledPayments();

struct MidtransConfig {
  std::string server_key;     // secret
  std::string snap_base_url;  // e.g. kSnapSandboxUrl
  std::string core_base_url;  // e.g. kCoreSandboxUrl
  std::vector<std::string> enabled_payments = DefaultEnabledPayments();
  std::string finish_url;     // callbacks.finish (where Snap sends the customer afterwards)
  int64_t timeout_ms = 3000;  // per HTTP call (a notification must be answered within 5 s)
  bool simulated = false;     // true: the base URLs are Sinyal's local sandbox (SIMULATED)
};

// SHA-512 hex of order_id + status_code + gross_amount + server_key (research.md 1.4).
std::string SignatureKey(std::string_view order_id, std::string_view status_code,
                         std::string_view gross_amount, std::string_view server_key);
// Constant-time comparison of `given` with the expected signature (length leaks, content not).
bool VerifySignature(std::string_view order_id, std::string_view status_code,
                     std::string_view gross_amount, std::string_view server_key,
                     std::string_view given);

// `bytes` random bytes (libsodium) as lower-case hex: order id suffixes, Snap tokens of the
// sandbox, refund keys, the sandbox's generated server key.
std::string RandomHex(size_t bytes);

// An order_id Midtrans accepts: 1..50 of [A-Za-z0-9-_~.] (research.md 1.2).
bool ValidOrderId(std::string_view order_id);

// "10000.00" or "10000" -> 10000 rupiah. InvalidArgument("gross_amount") for anything else
// (negative, fractional rupiah, exponent, more than 15 digits).
[[nodiscard]] Result<int64_t> ParseGrossAmount(std::string_view text);

struct SnapItem {
  std::string id, name;
  int64_t price = 0;
  int64_t quantity = 1;
};
struct SnapRequest {
  std::string order_id;
  int64_t gross_amount = 0;  // must equal sum(price x quantity)
  std::vector<SnapItem> items;
  std::string customer_first_name, customer_email;
  int64_t expiry_minutes = 24 * 60;
  std::string expiry_start_time;  // "2025-12-20 18:11:08 +0700"; empty: Midtrans uses now
};
// The JSON body of POST /snap/v1/transactions for `request` with `config`'s channels and
// finish URL. InvalidArgument when gross_amount != the items' sum or the order id is invalid.
[[nodiscard]] Result<nlohmann::json> SnapBody(const SnapRequest& request,
                                              const MidtransConfig& config);

struct SnapResponse {
  std::string token, redirect_url;
};

// One refund as listed by the status API ("refunds": [{"refund_key","refund_amount",...}]).
struct GatewayRefund {
  std::string key;
  int64_t amount = 0;
};

// A transaction as Midtrans describes it: the notification body and the status answer share
// this shape. Fields are kept as received (strings); unknown fields are ignored (lenient).
struct Transaction {
  std::string order_id, transaction_status, status_code, gross_amount, signature_key;
  std::string fraud_status, payment_type, transaction_id, transaction_time, settlement_time;
  std::string currency;
  std::optional<int64_t> original_amount;  // Automatic Fee Imposition: the price before fees
  std::vector<GatewayRefund> refunds;
  // Parses a notification or status body. InvalidArgument naming the field when a required
  // field (order_id, transaction_status, status_code, gross_amount) is missing or not a
  // string; signature_key is required only when `need_signature`.
  [[nodiscard]] static Result<Transaction> FromJson(const nlohmann::json& j, bool need_signature);
  bool SignatureValid(std::string_view server_key) const {
    return VerifySignature(order_id, status_code, gross_amount, server_key, signature_key);
  }
};

// What a transaction status means for an order (research.md 1.5).
enum class GatewayOutcome {
  kPending,            // pending: waiting for the customer; grant nothing
  kChallenge,          // capture + fraud_status challenge: hold until approved or denied
  kSettled,            // settlement, or capture + accept (or no fraud_status): grant
  kDenied,             // deny (or capture + deny) before a grant: record, keep the order open
  kFailed,             // cancel, expire, failure: the order is over
  kRefunded,           // refund, partial_refund: cash returned (amounts from "refunds")
  kChargeback,         // chargeback: cash taken back by the bank
  kPartialChargeback,  // partial_chargeback: reported to operators, amount not given
  kIgnored,            // authorize or an unknown status: nothing to do
};
GatewayOutcome Classify(std::string_view transaction_status, std::string_view fraud_status);
std::string_view GatewayOutcomeName(GatewayOutcome o);

// The gateway's HTTP status as our Status (the MidtransClient error rules below) for
// operation `what` ("midtrans status", ...): OK for 2xx.
Status GatewayHttpStatus(long http_status, std::string_view what);

// The gateway. Errors: Unavailable for transport failures, timeouts and 5xx (a retry may
// help); NotFound for 404 (status: no payment chosen yet on Snap); Unauthenticated for 401;
// InvalidArgument for other 4xx. Messages never contain the server key.
class MidtransClient {
 public:
  virtual ~MidtransClient() = default;
  [[nodiscard]] virtual Result<SnapResponse> CreateSnap(const SnapRequest& request) = 0;
  [[nodiscard]] virtual Result<Transaction> GetStatus(const std::string& order_id) = 0;
  [[nodiscard]] virtual Status Cancel(const std::string& order_id) = 0;
  [[nodiscard]] virtual Status Refund(const std::string& order_id, const std::string& refund_key,
                                      int64_t amount, const std::string& reason) = 0;
  virtual const MidtransConfig& config() const = 0;
};

// The libcurl client. InvalidArgument("midtrans.server_key") for an empty key or a base URL that
// is not http(s).
[[nodiscard]] Result<std::unique_ptr<MidtransClient>> MakeMidtransClient(MidtransConfig config);

}  // namespace sinyal::payments
