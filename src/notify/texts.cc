#include "notify/texts.h"

#include <cmath>
#include <cstdio>

#include "core/money.h"
#include "core/time.h"
#include "notify/bot_api.h"

namespace sinyal::notify {

std::string_view LangCode(Lang l) { return l == Lang::kId ? "id" : "en"; }

std::optional<Lang> ParseLang(std::string_view code) {
  std::string c;
  for (char ch : code) c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (c == "en") return Lang::kEn;
  if (c == "id") return Lang::kId;
  return std::nullopt;
}

Lang LangFromTelegram(std::string_view code) {
  return code.size() >= 2 && (code[0] == 'i' || code[0] == 'I') &&
                 (code[1] == 'd' || code[1] == 'D')
             ? Lang::kId
             : Lang::kEn;
}

namespace texts {
namespace {

bool Id(Lang l) { return l == Lang::kId; }

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A forward log return as a signed percentage: +0.42%.
std::string Pct(double log_return) {
  const double pct = (std::exp(log_return) - 1.0) * 100.0;
  return (pct >= 0 ? "+" : "") + Fixed(pct, 2) + "%";
}

std::string Percent(double p) { return Fixed(p * 100.0, 0) + "%"; }

// "2024-03-15 10:00 UTC"
std::string When(UnixNanos t) {
  CivilTime c = NanosToCivil(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d UTC", c.year, c.month, c.day, c.hour,
                c.minute);
  return buf;
}

std::string Count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string DirectionWord(Lang l, std::string_view d) {
  if (d == "bullish") return Id(l) ? "NAIK (bullish)" : "BULLISH";
  if (d == "bearish") return Id(l) ? "TURUN (bearish)" : "BEARISH";
  return Id(l) ? "NETRAL (tidak ada sinyal)" : "NEUTRAL (no call)";
}

std::string DirectionEmoji(std::string_view d) {
  if (d == "bullish") return "\xF0\x9F\x93\x88";  // chart increasing
  if (d == "bearish") return "\xF0\x9F\x93\x89";  // chart decreasing
  return "\xE2\x9E\x96";                          // heavy minus
}

// The body shared by /signal answers and alerts.
std::string SignalBody(Lang l, const SignalView& v) {
  std::string s;
  if (v.confidence) {
    s += (Id(l) ? "Keyakinan " : "Confidence ") + Percent(*v.confidence) +
         (Id(l) ? " (probabilitas terkalibrasi" : " (calibrated probability");
    if (v.p_up) s += (Id(l) ? "; naik " : "; up ") + Percent(*v.p_up);
    s += ")\n";
  }
  if (!v.abstain_reason.empty() && v.direction == "neutral") {
    s += (Id(l) ? "Alasan: " : "Why: ") + v.abstain_reason + "\n";
  }
  if (v.expected_return) {
    s += (Id(l) ? "Perkiraan gerak " : "Expected move ") + Pct(*v.expected_return);
    if (v.interval80_lo && v.interval80_hi) {
      s += (Id(l) ? " (interval 80%: " : " (80% interval: ") + Pct(*v.interval80_lo) + " .. " +
           Pct(*v.interval80_hi) + ")";
    }
    s +=
        (Id(l) ? " dalam " : " over ") + std::to_string(v.horizon) + (Id(l) ? " bar\n" : " bars\n");
  }
  if (!v.regime.empty()) s += (Id(l) ? "Rezim: " : "Regime: ") + v.regime + "\n";
  if (!v.drivers.empty()) {
    s += Id(l) ? "Pendorong: " : "Drivers: ";
    for (size_t i = 0; i < v.drivers.size(); ++i) s += (i ? ", " : "") + v.drivers[i];
    s += "\n";
  }
  s += (Id(l) ? "Bar ditutup " : "Bar closed ") + When(v.bar_close);
  if (v.data_delay_seconds > 0) {
    s += Id(l) ? " (data tertunda " + std::to_string(v.data_delay_seconds / 60) + " menit)"
               : " (data delayed " + std::to_string(v.data_delay_seconds / 60) + " min)";
  }
  s += "\n";
  if (!v.model_version.empty()) s += (Id(l) ? "Model " : "Model ") + v.model_version + "\n";
  for (const std::string& g : v.gated)
    s += (Id(l) ? "Tidak termasuk paket Anda: " : "Not in your plan: ") + g + "\n";
  if (!v.chart_url.empty()) s += (Id(l) ? "Grafik: " : "Chart: ") + v.chart_url + "\n";
  return s;
}

}  // namespace

std::string HelpUnlinked(Lang l) {
  if (Id(l)) {
    return "Halo! Ini bot Sinyal.\n\nUntuk menghubungkan akun Anda: masuk ke Sinyal, buka "
           "Pengaturan > Telegram, "
           "lalu ketuk tautan \"Hubungkan Telegram\". Tautan itu berlaku sekali dan hanya beberapa "
           "menit.\n\n"
           "Perintah: /help, /lang en|id";
  }
  return "Hello! This is the Sinyal bot.\n\nTo link your account: sign in to Sinyal, open Settings "
         "> Telegram and "
         "tap \"Link Telegram\". The link works once and only for a few minutes.\n\nCommands: "
         "/help, /lang en|id";
}

std::string HelpLinked(Lang l, bool paper_available) {  // paper_available: /paper is offered
  std::string s;
  if (Id(l)) {
    s = "Perintah Sinyal:\n"
        "/signal EURUSD 1h - sinyal terbaru (dihitung 1 panggilan API)\n"
        "/alerts - daftar peringatan\n"
        "/alerts add EURUSD 1h 0.65 [bullish|bearish] - peringatan saat bar ditutup dengan "
        "keyakinan minimal\n"
        "/alerts remove <id> - hapus peringatan\n"
        "/alerts mute [id] | /alerts unmute [id] - bisukan semua atau satu\n"
        "/usage - pemakaian periode ini\n"
        "/plan - paket Anda\n";
    if (paper_available) s += "/paper - akun paper trading Anda\n";
    s += "/lang en|id - bahasa\n/stop - putuskan akun Sinyal dari chat ini\n\n"
         "Bukan nasihat keuangan. Probabilitas terkalibrasi, bukan kepastian.";
    return s;
  }
  s = "Sinyal commands:\n"
      "/signal EURUSD 1h - the latest signal (counts as 1 API call)\n"
      "/alerts - your alerts\n"
      "/alerts add EURUSD 1h 0.65 [bullish|bearish] - an alert when a closed bar's signal reaches "
      "that confidence\n"
      "/alerts remove <id> - delete an alert\n"
      "/alerts mute [id] | /alerts unmute [id] - mute all alerts or one\n"
      "/usage - this period's usage\n"
      "/plan - your plan\n";
  if (paper_available) s += "/paper - your paper trading account\n";
  s += "/lang en|id - language\n/stop - unlink your Sinyal account from this chat\n\n"
       "Not financial advice. Calibrated probabilities, not certainties.";
  return s;
}

std::string HelpGroup(Lang l, std::string_view tenant) {
  if (Id(l)) {
    return "Grup ini terhubung ke " + std::string(tenant) +
           ".\nAturan anggota:\n"
           "- Semua anggota membaca peringatan yang dikirim ke grup.\n"
           "- Perintah hanya dijawab untuk anggota yang akun Telegram-nya terhubung ke " +
           std::string(tenant) +
           "; pesan orang lain diabaikan.\n"

           "- Menambah/menghapus/membisukan peringatan grup, /lang, /usage, /plan dan /stop: hanya "
           "owner atau admin " +
           std::string(tenant) +
           " (atau yang menghubungkan grup).\n\n"
           "/alerts, /alerts add EURUSD 1h 0.65, /alerts remove <id>, /alerts mute, /help";
  }
  return "This group is linked to " + std::string(tenant) +
         ".\nMember rules:\n"
         "- Every member reads the alerts posted to the group.\n"
         "- Commands are answered only for members whose Telegram account is linked to " +
         std::string(tenant) +
         "; anyone else is ignored.\n"

         "- Adding/removing/muting group alerts, /lang, /usage, /plan and /stop: owners or admins "
         "of " +
         std::string(tenant) +
         " only (or whoever linked the group).\n\n"
         "/alerts, /alerts add EURUSD 1h 0.65, /alerts remove <id>, /alerts mute, /help";
}

std::string Welcome(Lang l, std::string_view tenant, std::string_view user) {
  if (Id(l)) {
    return "Terhubung! Chat ini sekarang terhubung ke akun Sinyal " + std::string(user) + " (" +
           std::string(tenant) + ").\n\n" + HelpLinked(l, false);
  }
  return "Linked! This chat is now linked to the Sinyal account of " + std::string(user) + " (" +
         std::string(tenant) + ").\n\n" + HelpLinked(l, false);
}

std::string WelcomeBack(Lang l) {
  return Id(l) ? "Akun Anda sudah terhubung. Kirim /help untuk daftar perintah."
               : "Your account is already linked. Send /help for the commands.";
}

std::string GroupLinked(Lang l, std::string_view tenant, std::string_view by) {
  return (Id(l) ? "Grup terhubung oleh " : "Group linked by ") + std::string(by) + ".\n\n" +
         HelpGroup(l, tenant);
}

std::string LinkRefused(Lang l, LinkProblem p) {
  switch (p) {
    case LinkProblem::kMalformed:
    case LinkProblem::kUnknown:
      return Id(l) ? "Tautan ini tidak valid. Buat tautan baru di Sinyal: Pengaturan > Telegram."
                   : "This link is not valid. Create a new one in Sinyal: Settings > Telegram.";
    case LinkProblem::kExpired:
      return Id(l) ? "Tautan ini sudah kedaluwarsa. Buat tautan baru di Sinyal: Pengaturan > "
                     "Telegram."
                   : "This link has expired. Create a new one in Sinyal: Settings > Telegram.";
    case LinkProblem::kUsed:
      return Id(l) ? "Tautan ini sudah dipakai. Setiap tautan hanya berlaku sekali."
                   : "This link was already used. Each link works once.";
    case LinkProblem::kWrongChatKind:
      return Id(l) ? "Tautan ini untuk jenis chat lain (pribadi atau grup). Buat tautan yang "
                     "sesuai di Sinyal."
                   : "This link is for another kind of chat (private or group). Create the right "
                     "one in Sinyal.";
    case LinkProblem::kOtherAccount:
      return Id(l) ? "Akun Telegram ini sudah terhubung ke akun Sinyal lain. Kirim /stop dulu "
                     "untuk memutuskannya."
                   : "This Telegram account is already linked to another Sinyal account. Send "
                     "/stop first to "
                     "unlink it.";
    case LinkProblem::kNotTokenOwner:
      return Id(l) ? "Tautan grup ini milik pengguna Sinyal lain. Hanya pembuatnya yang dapat "
                     "memakainya."
                   : "This group link belongs to another Sinyal user. Only the one who created it "
                     "can use it.";
    case LinkProblem::kNotGroupOwner:
      return Id(l) ? "Hanya pemilik (creator) grup ini yang dapat menghubungkannya ke Sinyal."
                   : "Only the owner (creator) of this group can link it to Sinyal.";
    case LinkProblem::kGroupTaken:
      return Id(l) ? "Grup ini sudah terhubung ke organisasi lain di Sinyal."
                   : "This group is already linked to another organisation on Sinyal.";
  }
  return "";
}

std::string NotLinked(Lang l) {
  return Id(l) ? "Akun Telegram ini belum terhubung ke Sinyal. Masuk ke Sinyal, buka Pengaturan > "
                 "Telegram, "
                 "lalu ketuk \"Hubungkan Telegram\"."
               : "This Telegram account is not linked to Sinyal. Sign in to Sinyal, open Settings "
                 "> Telegram and tap "
                 "\"Link Telegram\".";
}

std::string Unlinked(Lang l) {
  return Id(l)
             ? "Akun Sinyal Anda telah diputus dari chat ini. Anda tidak akan menerima pesan lagi."
             : "Your Sinyal account is unlinked from this chat. You will get no more messages.";
}

std::string UnlinkedFromWeb(Lang l) {
  return Id(l) ? "Akun Sinyal Anda diputus dari chat ini melalui situs Sinyal. Anda tidak akan "
                 "menerima pesan lagi."
               : "Your Sinyal account was unlinked from this chat on the Sinyal website. You will "
                 "get no more "
                 "messages.";
}

std::string GroupUnlinked(Lang l) {
  return Id(l) ? "Grup ini telah diputus dari Sinyal. Tidak ada peringatan lagi."
               : "This group is unlinked from Sinyal. No more alerts.";
}

std::string UnknownCommand(Lang l, std::string_view command) {
  std::string c(command.substr(0, 32));
  return Id(l) ? "Perintah tidak dikenal: /" + c + ". Kirim /help untuk daftar perintah."
               : "Unknown command: /" + c + ". Send /help for the commands.";
}

std::string NotACommand(Lang l) {
  return Id(l) ? "Saya hanya mengerti perintah. Kirim /help."
               : "I only understand commands. Send /help.";
}

std::string TooLong(Lang l, size_t chars, size_t max_chars) {
  return Id(l) ? "Pesan Anda terlalu panjang (" + std::to_string(chars) +
                     " karakter; perintah paling banyak " + std::to_string(max_chars) +
                     "). Kirim /help."
               : "Your message is too long (" + std::to_string(chars) +
                     " characters; commands are at most " + std::to_string(max_chars) +
                     "). Send /help.";
}

std::string NotAllowedInGroup(Lang l) {
  return Id(l) ? "Hanya owner atau admin organisasi (atau yang menghubungkan grup) yang dapat "
                 "melakukan ini di grup."
               : "Only owners or admins of the organisation (or whoever linked the group) can do "
                 "this in a group.";
}

std::string PrivateOnly(Lang l) {
  return Id(l) ? "Perintah ini hanya di chat pribadi dengan bot."
               : "This command works only in a private chat with "
                 "the bot.";
}

std::string LangSet(Lang l) { return Id(l) ? "Bahasa: Bahasa Indonesia." : "Language: English."; }
std::string LangUsage(Lang l) {
  return Id(l) ? "Pakai: /lang en atau /lang id" : "Use: /lang en or /lang id";
}

std::string SignalUsage(Lang l) {
  return Id(l) ? "Pakai: /signal SIMBOL TIMEFRAME, misalnya /signal EURUSD 1h (timeframe: 1m 5m "
                 "15m 30m 1h 4h 1d)"
               : "Use: /signal SYMBOL TIMEFRAME, e.g. /signal EURUSD 1h (timeframes: 1m 5m 15m 30m "
                 "1h 4h 1d)";
}

std::string SignalAnswer(Lang l, const SignalView& v) {
  std::string s = DirectionEmoji(v.direction) + " " + v.symbol + " " + v.timeframe + ": " +
                  DirectionWord(l, v.direction) + "\n" + SignalBody(l, v);
  if (v.metered) {
    if (v.remaining_quota) {
      s += Id(l) ? "Sisa kuota: " + Count(*v.remaining_quota)
                 : "Quota left: " + Count(*v.remaining_quota);
    } else {
      s += Id(l) ? "Dihitung sebagai 1 panggilan." : "Counted as 1 call.";
    }
    s += "\n";
  }
  return s;
}

std::string SignalRefused(Lang l, std::string_view reason) {
  return (Id(l) ? "Tidak bisa: " : "Can't do that: ") + std::string(reason);
}

std::string Alert(Lang l, const SignalView& v) {
  std::string s = DirectionEmoji(v.direction) +
                  (Id(l) ? " Peringatan Sinyal: " : " Sinyal alert: ") + v.symbol + " " +
                  v.timeframe + " " + DirectionWord(l, v.direction) + "\n" + SignalBody(l, v);
  s += Id(l) ? "Bukan nasihat keuangan. /alerts untuk mengatur."
             : "Not financial advice. /alerts to manage.";
  return s;
}

std::string AlertsUsage(Lang l) {
  return Id(l)
             ? "Pakai: /alerts | /alerts add EURUSD 1h 0.65 [bullish|bearish] | /alerts remove "
               "<id> | "
               "/alerts mute [id] | /alerts unmute [id]\nKeyakinan minimal antara 0.50 dan 0.99."
             : "Use: /alerts | /alerts add EURUSD 1h 0.65 [bullish|bearish] | /alerts remove <id> "
               "| "
               "/alerts mute [id] | /alerts unmute [id]\nMinimum confidence between 0.50 and 0.99.";
}

std::string AlertList(Lang l, const std::vector<AlertLine>& alerts, bool chat_muted) {
  std::string s;
  if (alerts.empty()) {
    s = Id(l) ? "Belum ada peringatan. Contoh: /alerts add EURUSD 1h 0.65"
              : "No alerts yet. Example: /alerts add EURUSD 1h 0.65";
  } else {
    s = Id(l) ? "Peringatan:\n" : "Alerts:\n";
    for (const AlertLine& a : alerts) {
      s += "#" + std::to_string(a.id) + " " + a.symbol + " " + a.timeframe +
           " >= " + Fixed(a.min_confidence, 2);
      if (a.direction != "any") s += " " + a.direction;
      if (a.muted) s += Id(l) ? " (dibisukan)" : " (muted)";
      s += "\n";
    }
  }
  if (chat_muted)
    s += Id(l) ? "\nSemua peringatan di chat ini dibisukan: /alerts unmute"
               : "\nAll alerts in this "
                 "chat are muted: /alerts "
                 "unmute";
  return s;
}

std::string AlertAdded(Lang l, const AlertLine& a) {
  std::string what = a.symbol + " " + a.timeframe + " >= " + Fixed(a.min_confidence, 2) +
                     (a.direction != "any" ? " " + a.direction : "");
  return Id(l) ? "Peringatan #" + std::to_string(a.id) + " ditambahkan: " + what +
                     ". Anda menerima satu pesan saat bar yang ditutup memberi sinyal seperti itu."
               : "Alert #" + std::to_string(a.id) + " added: " + what +
                     ". You get one message when a closed bar gives such a signal.";
}

std::string AlertRemoved(Lang l, int64_t id) {
  return Id(l) ? "Peringatan #" + std::to_string(id) + " dihapus."
               : "Alert #" + std::to_string(id) + " removed.";
}

std::string AlertNotFound(Lang l, int64_t id) {
  return Id(l) ? "Tidak ada peringatan #" + std::to_string(id) + " di chat ini."
               : "There is no alert #" + std::to_string(id) + " in this chat.";
}

std::string AlertMuted(Lang l, std::optional<int64_t> id, bool muted) {
  if (id) {
    return Id(l) ? "Peringatan #" + std::to_string(*id) + (muted ? " dibisukan." : " aktif lagi.")
                 : "Alert #" + std::to_string(*id) + (muted ? " muted." : " unmuted.");
  }
  return Id(l)
             ? (muted ? "Semua peringatan di chat ini dibisukan."
                      : "Peringatan di chat ini aktif lagi.")
             : (muted ? "All alerts in this chat are muted." : "Alerts in this chat are on again.");
}

std::string AlertRefused(Lang l, std::string_view reason) {
  return (Id(l) ? "Peringatan tidak ditambahkan: " : "Alert not added: ") + std::string(reason);
}

std::string Usage(Lang l, std::string_view plan, int64_t used, std::optional<int64_t> quota,
                  int64_t overage_units, int64_t cost_idr, UnixNanos period_end) {
  std::string s = (Id(l) ? "Pemakaian periode ini (paket " : "This period's usage (plan ") +
                  std::string(plan) + "):\n";
  if (quota) {
    s += Count(used) + " / " + Count(*quota) + (Id(l) ? " panggilan" : " calls");
    if (*quota > 0) s += " (" + std::to_string(used * 100 / *quota) + "%)";
    s += "\n";
  } else {
    s += Count(used) + (Id(l) ? " panggilan (tanpa batas, penggunaan wajar)\n"
                              : " calls (unlimited, fair use)\n");
  }
  if (overage_units > 0) {
    s += (Id(l) ? "Kelebihan: " : "Overage: ") + Count(overage_units) + " = " +
         FormatIdr({cost_idr}) + "\n";
  }
  s += (Id(l) ? "Periode berakhir " : "Period ends ") + When(period_end);
  return s;
}

std::string PlanInfo(Lang l, std::string_view name, int64_t price_idr, std::optional<int64_t> quota,
                     const std::vector<std::string>& features, UnixNanos period_end) {
  std::string s = (Id(l) ? "Paket: " : "Plan: ") + std::string(name) + " - " +
                  FormatIdr({price_idr}) + (Id(l) ? "/bulan\n" : "/month\n");
  s += quota
           ? (Id(l) ? "Kuota: " : "Quota: ") + Count(*quota) +
                 (Id(l) ? " panggilan/bulan\n" : " calls/month\n")
           : (Id(l) ? "Kuota: tanpa batas (penggunaan wajar)\n" : "Quota: unlimited (fair use)\n");
  s += Id(l) ? "Fitur: " : "Features: ";
  for (size_t i = 0; i < features.size(); ++i) s += (i ? ", " : "") + features[i];
  if (features.empty()) s += Id(l) ? "arah sinyal saja" : "direction only";
  s += (Id(l) ? "\nPeriode berakhir " : "\nPeriod ends ") + When(period_end);
  return s;
}

std::string PaperUnavailable(Lang l) {
  return Id(l) ? "Paper trading belum tersedia di Sinyal."
               : "Paper trading is not available on Sinyal yet.";
}

std::string Paper(Lang l, const std::vector<PaperLine>& accounts) {
  if (accounts.empty()) {
    return Id(l) ? "Anda belum punya akun paper trading. Buat di Sinyal: Paper trading."
                 : "You have no paper trading account yet. Create one in Sinyal: Paper trading.";
  }
  std::string s = Id(l) ? "Akun paper trading (simulasi, bukan uang sungguhan):\n"
                        : "Paper trading accounts (simulated, not real money):\n";
  for (const PaperLine& a : accounts) {
    s += "\n#" + std::to_string(a.id) + " " + a.name + " (" + a.status;
    if (a.trading_state != "active") s += ", " + a.trading_state;
    s += ")\n";
    s += (Id(l) ? "Ekuitas " : "Equity ") + Fixed(a.equity, 2) + " " + a.currency + " (" +
         (a.return_fraction >= 0 ? "+" : "") + Fixed(a.return_fraction * 100, 2) + "%" +
         (Id(l) ? " dari " : " from ") + Fixed(a.initial_balance, 2) + "), " +
         (Id(l) ? "saldo " : "balance ") + Fixed(a.balance, 2) + "\n";
    if (a.positions.empty()) {
      s += Id(l) ? "Tidak ada posisi terbuka\n" : "No open positions\n";
    } else {
      for (const std::string& p : a.positions) s += "- " + p + "\n";
    }
    if (a.last_bar_time > 0)
      s += (Id(l) ? "Bar terakhir " : "Last bar ") + When(a.last_bar_time) + "\n";
  }
  return s;
}

std::string TemporaryFailure(Lang l) {
  return Id(l) ? "Maaf, terjadi gangguan sementara. Coba lagi sebentar lagi."
               : "Sorry, something went wrong on our side. Please try again in a moment.";
}

std::string QuotaNotice(Lang l, int percent, std::string_view plan, int64_t used, int64_t quota,
                        UnixNanos period_end) {
  if (percent >= 100) {
    return Id(l) ? "\xE2\x9A\xA0 Kuota paket " + std::string(plan) + " habis: " + Count(used) +
                       " / " + Count(quota) +
                       " panggilan. Panggilan berikutnya ditolak atau dikenai biaya kelebihan "
                       "sampai " +
                       When(period_end) + ". /plan"
                 : "\xE2\x9A\xA0 Your " + std::string(plan) + " quota is used up: " + Count(used) +
                       " / " + Count(quota) +
                       " calls. Further calls are refused or charged as overage until " +
                       When(period_end) + ". /plan";
  }
  return Id(l) ? "Kuota paket " + std::string(plan) + " sudah terpakai " + std::to_string(percent) +
                     "%: " + Count(used) + " / " + Count(quota) + " panggilan, sampai " +
                     When(period_end) + ". /usage"
               : "You have used " + std::to_string(percent) + "% of your " + std::string(plan) +
                     " quota: " + Count(used) + " / " + Count(quota) + " calls, until " +
                     When(period_end) + ". /usage";
}

std::string RenewalDue(Lang l, std::string_view plan, int64_t amount, UnixNanos due) {
  return Id(l) ? "Perpanjangan paket " + std::string(plan) + " jatuh tempo " + When(due) + ": " +
                     FormatIdr({amount}) + ". Bayar di Sinyal: Pengaturan > Tagihan."
               : "Your " + std::string(plan) + " renewal is due " + When(due) + ": " +
                     FormatIdr({amount}) + ". Pay in Sinyal: Settings > Billing.";
}

std::string PaymentSettled(Lang l, std::string_view plan, int64_t amount) {
  return Id(l) ? "\xE2\x9C\x85 Pembayaran " + FormatIdr({amount}) + " untuk paket " +
                     std::string(plan) + " diterima. Terima kasih!"
               : "\xE2\x9C\x85 Payment of " + FormatIdr({amount}) + " for the " +
                     std::string(plan) + " plan received. Thank you!";
}

std::string PaymentFailed(Lang l, std::string_view plan, int64_t amount, std::string_view detail) {
  std::string why = detail.empty() ? "" : " (" + std::string(detail.substr(0, 200)) + ")";
  return Id(l)
             ? "\xE2\x9D\x8C Pembayaran " + FormatIdr({amount}) + " untuk paket " +
                   std::string(plan) + " gagal" + why +
                   ". Coba lagi di Sinyal: Pengaturan > Tagihan."
             : "\xE2\x9D\x8C Payment of " + FormatIdr({amount}) + " for the " + std::string(plan) +
                   " plan failed" + why + ". Try again in Sinyal: Settings > Billing.";
}

}  // namespace texts
}  // namespace sinyal::notify
