// Account notices: the hook billing and payments call when something a tenant's owners should
// hear about happens (quota at 80% / 100%, a renewal due, a payment settled or failed).
//
// The interface lives here, below payments/ and notify/ in the module order, so that payments/
// can call it without depending on notify/; notify::TelegramBot implements it (app/ wires it in),
// and delivers each notice to the tenant's linked owners and admins on Telegram. A call is one
// line, after the event's own transaction committed:
//
//   notices.Notify({.tenant = t, .kind = billing::NoticeKind::kPaymentSettled,
//                   .event_id = order_id, .plan = "pro", .amount_idr = 149000});
//
// event_id makes a notice idempotent: the same (tenant, kind, event_id) is delivered once however
// often it is notified (e.g. a payment notification that Midtrans sends twice). Use the order id
// for payments, the invoice id or period end for renewals.
//
// Thread safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"

namespace sinyal::billing {

enum class NoticeKind { kQuota80, kQuota100, kRenewalDue, kPaymentSettled, kPaymentFailed };

// "quota_80", "quota_100", "renewal_due", "payment_settled", "payment_failed".
inline std::string_view NoticeKindName(NoticeKind k) {
  switch (k) {
    case NoticeKind::kQuota80:
      return "quota_80";
    case NoticeKind::kQuota100:
      return "quota_100";
    case NoticeKind::kRenewalDue:
      return "renewal_due";
    case NoticeKind::kPaymentSettled:
      return "payment_settled";
    case NoticeKind::kPaymentFailed:
      return "payment_failed";
  }
  return "unknown";
}

struct AccountNotice {
  TenantId tenant;
  NoticeKind kind = NoticeKind::kPaymentSettled;
  std::string event_id;  // required, <= 200 bytes: the same (tenant, kind, event_id) goes out once
  std::string plan;      // the plan's display name or name
  int64_t amount_idr = 0;       // payments and renewals
  UnixNanos due_at = 0;         // renewal: when it is due; quota: the period end
  int64_t used = 0, quota = 0;  // quota notices
  std::string detail;           // payment failed: a reason fit for the payer (no secrets)
};

class AccountNotices {
 public:
  virtual ~AccountNotices() = default;
  // Queues the notice for delivery; returns once it is durably queued (no network wait).
  // InvalidArgument for a notice without tenant or event_id. A repeat of a delivered event is OK.
  [[nodiscard]] virtual Status Notify(const AccountNotice& notice) = 0;
};

// For deployments without Telegram: notices go nowhere.
class NoAccountNotices final : public AccountNotices {
 public:
  Status Notify(const AccountNotice&) override { return Status::Ok(); }
};

}  // namespace sinyal::billing
