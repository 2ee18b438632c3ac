// Every text the bot sends, in English and Bahasa Indonesia. Plain text (no parse_mode), so that
// user input echoed back can never break the formatting; emoji mark the direction.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace sinyal::notify {

enum class Lang { kEn, kId };
std::string_view LangCode(Lang l);  // "en", "id"
// "en"/"id" (any case); nullopt otherwise.
std::optional<Lang> ParseLang(std::string_view code);
// Telegram's language_code ("id", "id-ID", "en-US", ...): Indonesian for "id*", else English.
Lang LangFromTelegram(std::string_view language_code);

// What an alert or a /signal answer shows; fields the plan lacks are absent (nullopt / empty)
// and `gated` names them with the plan that has them ("confidence: requires plan pro").
struct SignalView {
  std::string symbol, timeframe;  // "EURUSD", "H1"
  std::string direction;          // "bullish", "bearish", "neutral"
  std::string abstain_reason;
  int horizon = 1;
  UnixNanos bar_close = 0;  // close time of the bar it was made on
  std::optional<double> confidence, p_up;
  std::optional<double> interval80_lo, interval80_hi;  // forward log return
  std::optional<double> expected_return;
  std::string regime;                // e.g. "up, normal volatility"; empty when gated
  std::vector<std::string> drivers;  // "rsi_14 61.2 (+)"; empty when gated
  std::string model_version;
  int64_t data_delay_seconds = 0;
  std::vector<std::string> gated;
  std::string chart_url;
  // Metered answers (/signal): units left after this call; nullopt on unlimited plans.
  std::optional<int64_t> remaining_quota;
  bool metered = false;
};

namespace texts {

std::string HelpUnlinked(Lang l);
std::string HelpLinked(Lang l, bool paper_available);
std::string HelpGroup(Lang l, std::string_view tenant_name);
std::string Welcome(Lang l, std::string_view tenant_name, std::string_view user_name);
std::string WelcomeBack(Lang l);
std::string GroupLinked(Lang l, std::string_view tenant_name, std::string_view by);

enum class LinkProblem {
  kMalformed,  // not a token
  kUnknown,    // no such token (or another bot's)
  kExpired,
  kUsed,
  kWrongChatKind,  // a group token in a private chat, or the other way round
  kOtherAccount,   // this Telegram account is linked to another Sinyal account
  kNotTokenOwner,  // group: the token belongs to someone else
  kNotGroupOwner,  // group: the sender is not the group's creator
  kGroupTaken,     // group: linked to another organisation
};
std::string LinkRefused(Lang l, LinkProblem p);

std::string NotLinked(Lang l);
std::string Unlinked(Lang l);
std::string UnlinkedFromWeb(Lang l);
std::string GroupUnlinked(Lang l);
std::string UnknownCommand(Lang l, std::string_view command);
std::string NotACommand(Lang l);
std::string TooLong(Lang l, size_t chars, size_t max_chars);
std::string NotAllowedInGroup(Lang l);
std::string PrivateOnly(Lang l);
std::string LangSet(Lang l);
std::string LangUsage(Lang l);

std::string SignalUsage(Lang l);
std::string SignalAnswer(Lang l, const SignalView& v);
std::string SignalRefused(Lang l, std::string_view reason);
std::string Alert(Lang l, const SignalView& v);

std::string AlertsUsage(Lang l);
struct AlertLine {
  int64_t id = 0;
  std::string symbol, timeframe, direction;
  double min_confidence = 0;
  bool muted = false;
};
std::string AlertList(Lang l, const std::vector<AlertLine>& alerts, bool chat_muted);
std::string AlertAdded(Lang l, const AlertLine& a);
std::string AlertRemoved(Lang l, int64_t id);
std::string AlertNotFound(Lang l, int64_t id);
std::string AlertMuted(Lang l, std::optional<int64_t> id, bool muted);
std::string AlertRefused(Lang l, std::string_view reason);

std::string Usage(Lang l, std::string_view plan, int64_t used, std::optional<int64_t> quota,
                  int64_t overage_units, int64_t cost_idr, UnixNanos period_end);
std::string PlanInfo(Lang l, std::string_view display_name, int64_t price_idr,
                     std::optional<int64_t> quota, const std::vector<std::string>& features,
                     UnixNanos period_end);
std::string PaperUnavailable(Lang l);
struct PaperLine {
  int64_t id = 0;
  std::string name, status, currency, trading_state;
  double initial_balance = 0, balance = 0, equity = 0, return_fraction = 0;
  std::vector<std::string> positions;  // "EURUSD long 0.10 @ 1.08450, P/L +12.30"
  UnixNanos last_bar_time = 0;
};
std::string Paper(Lang l, const std::vector<PaperLine>& accounts);
std::string TemporaryFailure(Lang l);

// Account notices.
std::string QuotaNotice(Lang l, int percent, std::string_view plan, int64_t used, int64_t quota,
                        UnixNanos period_end);
std::string RenewalDue(Lang l, std::string_view plan, int64_t amount_idr, UnixNanos due_at);
std::string PaymentSettled(Lang l, std::string_view plan, int64_t amount_idr);
std::string PaymentFailed(Lang l, std::string_view plan, int64_t amount_idr,
                          std::string_view detail);

}  // namespace texts
}  // namespace sinyal::notify
