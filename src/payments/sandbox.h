// The local Midtrans sandbox: a SIMULATED gateway (issue 11, deliverable 5).
//
// It is NOT Midtrans and moves no money. It stands in for Midtrans on loopback for tests and
// for anyone running Sinyal without Midtrans keys, and speaks the same contract as the real
// gateway (payments/midtrans.h, research.md section 1):
//   POST {base}/snap/v1/transactions     Basic auth with the server key; validates order_id
//                                        (unique, format) and gross_amount == sum of the items;
//                                        201 {"token","redirect_url"}; 401 on a wrong key
//   GET  {base}/v2/{order}/status        the transaction with its signature_key; 404
//                                        ("payment not found") until a method is chosen, as Snap
//   POST {base}/v2/{order}/cancel        cancel (sends the cancel notification)
//   POST {base}/v2/{order}/refund        refund / partial_refund (idempotent on refund_key)
// and a small page (http/handlers/midtrans_sandbox_api.cc serves it at {base}/pay/{token})
// where the "customer" pays, is denied, lets the order expire, etc. Every outcome is sent as
// a correctly signed HTTP notification to the configured URL, with Midtrans's retry rules
// (2xx: done; 500: 1 retry; 503: 4; 400/404: 2; 3xx: none; others: 5), on a schedule that is
// Midtrans's (2, 10, 30, 90, 210 min) times `retry_scale`. On request it also sends duplicates,
// delivers statuses in reverse order, and reverses a settlement (settlement -> deny).
//
// Thread safety: MidtransSandbox is thread-safe. It owns one delivery thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "payments/midtrans.h"

namespace sinyal::payments {

struct SandboxOptions {
  std::string server_key;        // the key clients must send (and that signs notifications)
  std::string base_url;          // public URL of the sandbox, for redirect_url
                                 // ("http://127.0.0.1:8080/sandbox/midtrans")
  std::string notification_url;  // where notifications go; empty: none are sent
  // Midtrans's retry delays are multiplied by this (1.0 = 2 min, 10 min, ...). Default 1.0.
  double retry_scale = 1.0;
};

// The actions of the pay page (the simulated customer and bank). Stable names: the page's
// buttons carry them as ids ("sandbox-action-<name>") and the JSON API takes them.
//   pay        bank transfer (bca_va): pending, then settlement
//   pending    choose a bank transfer and leave it unpaid: pending
//   pay_card   card: capture with fraud_status accept, then settlement
//   challenge  card: capture with fraud_status challenge
//   accept     a challenged capture is approved: capture accept, then settlement
//   deny       the payment is denied: deny
//   expire     the order expires unpaid: expire
//   reverse    a settled echannel (Mandiri bill) payment is reversed: deny after settlement
//   chargeback a settled payment is charged back: chargeback
const std::vector<std::string>& SandboxActions();

struct SandboxActionOptions {
  int duplicates = 0;        // send each notification this many extra times
  bool reorder = false;      // deliver this action's statuses last-first (e.g. settlement, pending)
  std::string payment_type;  // override (e.g. "echannel", "qris", "gopay", "shopeepay")
};

class MidtransSandbox {
 public:
  // POSTs `body` (JSON) to `url`; returns the HTTP status, 0 on a transport failure.
  using Sender = std::function<int(const std::string& url, const std::string& body)>;
  // REQUIRES: clock outlives this. A null sender uses libcurl.
  MidtransSandbox(SandboxOptions options, Clock& clock, Sender sender = nullptr);
  ~MidtransSandbox();
  MidtransSandbox(const MidtransSandbox&) = delete;
  MidtransSandbox& operator=(const MidtransSandbox&) = delete;

  struct Answer {
    int http_status = 200;
    nlohmann::json body;
  };
  // The gateway API. `authorization` is the request's Authorization header.
  Answer CreateTransaction(std::string_view authorization, std::string_view body);
  Answer GetStatus(std::string_view authorization, const std::string& order_id);
  Answer Cancel(std::string_view authorization, const std::string& order_id);
  Answer Refund(std::string_view authorization, const std::string& order_id, std::string_view body);

  // The customer's side, by Snap token or order id. NotFound("order"); FailedPrecondition when
  // the action doesn't fit the transaction's state (e.g. reverse before settlement).
  [[nodiscard]] sinyal::Status Act(const std::string& token_or_order, const std::string& action,
                                   const SandboxActionOptions& options = {});
  // The transaction of a token or order id (as the status API shows it) plus "token",
  // "actions" (those that fit now) and "simulated": true. NotFound.
  [[nodiscard]] Result<nlohmann::json> Describe(const std::string& token_or_order);
  // Every transaction, newest first (the sandbox's own page and tests).
  nlohmann::json List();
  // The pay page for a token (HTML; SIMULATED banner; buttons with stable ids).
  [[nodiscard]] Result<std::string> PayPage(const std::string& token,
                                            const std::string& action_url);

  void SetNotificationUrl(std::string url);
  // Notifications queued, being sent, or waiting for a retry.
  size_t PendingDeliveries();
  // Delivery attempts so far (tests).
  int64_t DeliveryAttempts();
  const SandboxOptions& options() const { return options_; }

 private:
  struct Tx {
    std::string order_id, token, status, fraud_status, payment_type, transaction_id;
    int64_t gross_amount = 0;
    int64_t refunded = 0;
    nlohmann::json refunds = nlohmann::json::array();
    UnixNanos created_at = 0, expires_at = 0, settled_at = 0;
    std::vector<std::string> history;
  };
  struct Delivery {
    int64_t due = 0;  // monotonic nanos
    std::string body;
    int attempt = 0;
    int retries_left = -1;  // -1: not decided yet (set by the first answer)
  };
  bool Authorized(std::string_view authorization) const;
  Tx* FindLocked(const std::string& token_or_order);
  nlohmann::json TxJson(const Tx& tx) const;
  std::vector<std::string> ActionsFor(const Tx& tx) const;
  void SetStatusLocked(Tx& tx, std::string status, std::string fraud,
                       std::vector<nlohmann::json>* out);
  void EnqueueLocked(std::vector<nlohmann::json> notes, const SandboxActionOptions& o);
  void Loop();

  SandboxOptions options_;
  Clock& clock_;
  Sender sender_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Tx> txs_;              // GUARDED_BY(mu_), by order id
  std::map<std::string, std::string> tokens_;  // GUARDED_BY(mu_), token -> order id
  std::deque<Delivery> queue_;                 // GUARDED_BY(mu_)
  int64_t attempts_ = 0;                       // GUARDED_BY(mu_)
  int in_flight_ = 0;                          // GUARDED_BY(mu_): deliveries being sent
  int64_t next_tx_ = 1;                        // GUARDED_BY(mu_)
  bool stop_ = false;                          // GUARDED_BY(mu_)
  std::thread thread_;
};

// A MidtransClient that calls a MidtransSandbox in process (no HTTP): for tests of the payments
// flow without a server. Marked simulated.
std::unique_ptr<MidtransClient> MakeInProcessSandboxClient(MidtransSandbox& sandbox);

}  // namespace sinyal::payments
