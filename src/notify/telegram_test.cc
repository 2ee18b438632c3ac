// TelegramBot through the FAKE Bot API server over real HTTP (long polling, sendMessage), on
// SQLite and PostgreSQL: linking and its refusals, every command in English and Bahasa Indonesia,
// hostile input, groups and their member rules, webhook secrets, account notices, and updates
// handled exactly once across restarts.
#include "notify/telegram.h"

#include <gtest/gtest.h>

#include "notify/commands.h"
#include "notify/testing/bot_fixture.h"
#include "store/testing/test_db.h"

namespace sinyal::notify {
namespace {

using accounts::Role;
using std::chrono::seconds;
using store::testing::DbTest;
using testing::BotWorld;

TEST(ParseCommandTest, ReadsNamesArgumentsAndTheAddressee) {
  auto c = ParseCommand("/Signal@sinyal_fake_bot  EURUSD   1h ", "sinyal_fake_bot");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->name, "signal");
  EXPECT_EQ(c->args, (std::vector<std::string>{"EURUSD", "1h"}));
  EXPECT_FALSE(c->for_other_bot);
  EXPECT_TRUE(ParseCommand("/help@other_bot", "sinyal_fake_bot")->for_other_bot);
  EXPECT_FALSE(ParseCommand("hello", "b").has_value());
  EXPECT_FALSE(ParseCommand("/", "b").has_value());
  EXPECT_FALSE(ParseCommand("/bad-name", "b").has_value());
  EXPECT_FALSE(ParseCommand("/" + std::string(40, 'a'), "b").has_value());
  auto many = ParseCommand("/x 1 2 3 4 5 6 7 8 9 10", "b");
  ASSERT_EQ(many->args.size(), kMaxCommandArgs);
  EXPECT_EQ(many->args.back(), "8 9 10");
}

class TelegramBotTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    world_ = std::make_unique<BotWorld>(db());
    tenant_ = world_->CreateTenant("Toko Sinyal");
    owner_ = world_->CreateUser(tenant_, "ayu@example.com", Role::kOwner);
    member_ = world_->CreateUser(tenant_, "budi@example.com", Role::kMember);
    world_->StartBot();
  }
  void TearDown() override {
    world_.reset();
    DbTest::TearDown();
  }

  // Sends `text` as Telegram user `from` in chat `chat` and waits for a reply containing `needle`.
  std::string Ask(int64_t from, int64_t chat, const std::string& text, const std::string& needle,
                  const std::string& lang = "") {
    const size_t before = world_->fake().SentTo(chat).size();
    world_->fake().InjectText(from, chat, text, "", lang);
    auto reply = world_->fake().WaitForMessage(chat, needle, seconds(10), before);
    if (!reply) {
      std::string got;
      for (const auto& m : world_->fake().SentTo(chat)) got += "\n---\n" + m.text;
      ADD_FAILURE() << "no reply containing '" << needle << "' to '" << text.substr(0, 60)
                    << "'; chat has:" << got;
      return "";
    }
    return reply->text;
  }

  // Waits until every update injected so far was handled (confirmed by the poller's offset).
  void Settle() {
    for (int i = 0; i < 500 && world_->fake().PendingUpdates() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(world_->bot().send_queue().WaitIdle(seconds(10)));
  }

  std::unique_ptr<BotWorld> world_;
  TenantId tenant_;
  accounts::Principal owner_, member_;
};

TEST_P(TelegramBotTest, LinksThroughAOneTimeDeepLink) {
  TelegramBot& bot = world_->bot();
  auto token = bot.CreateLinkToken(owner_, LinkKind::kPrivate);
  ASSERT_OK(token);
  EXPECT_EQ(token->token.size(), 43u);  // 32 bytes, base64url, within Telegram's 64
  EXPECT_LE(token->token.size(), kMaxStartPayload);
  EXPECT_EQ(token->deep_link, "https://t.me/sinyal_fake_bot?start=" + token->token);
  EXPECT_EQ(token->token.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
            std::string::npos);
  auto before = bot.GetLink(owner_);
  ASSERT_OK(before);
  EXPECT_FALSE(before->linked);

  std::string welcome = Ask(1001, 1001, "/start " + token->token, "Linked!");
  EXPECT_NE(welcome.find("Toko Sinyal"), std::string::npos);
  auto after = bot.GetLink(owner_);
  ASSERT_OK(after);
  EXPECT_TRUE(after->linked);
  EXPECT_EQ(after->telegram_user_id, 1001);

  // Single use: the same token from someone else is refused, and links nobody.
  Ask(2002, 2002, "/start " + token->token, "already used");
  EXPECT_FALSE(bot.GetLink(member_)->linked);
  // Unknown and malformed tokens.
  Ask(2002, 2002, "/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not valid");
  Ask(2002, 2002, "/start bad<token>", "not valid");
  // Expired: the member's token, expired in the database.
  auto expired = bot.CreateLinkToken(member_, LinkKind::kPrivate);
  ASSERT_OK(expired);
  ASSERT_OK(db().WithTx([](soci::session& sql) {
    sql << "UPDATE telegram_link_tokens SET expires_at = 1 WHERE used_at IS NULL";
    return Status::Ok();
  }));
  Ask(2002, 2002, "/start " + expired->token, "expired");
  EXPECT_FALSE(bot.GetLink(member_)->linked);
  // Another user's token from an account already linked elsewhere: refused.
  auto members = bot.CreateLinkToken(member_, LinkKind::kPrivate);
  ASSERT_OK(members);
  Ask(1001, 1001, "/start " + members->token, "already linked to another Sinyal account");
  EXPECT_FALSE(bot.GetLink(member_)->linked);
  // A newer token voids the older one.
  auto first = bot.CreateLinkToken(member_, LinkKind::kPrivate);
  auto second = bot.CreateLinkToken(member_, LinkKind::kPrivate);
  ASSERT_OK(first);
  ASSERT_OK(second);
  Ask(2002, 2002, "/start " + first->token, "expired");
  Ask(2002, 2002, "/start " + second->token, "Linked!");
  EXPECT_TRUE(bot.GetLink(member_)->linked);
  // API keys can't make links.
  accounts::Principal key = owner_;
  key.api_key = ApiKeyId(5);
  EXPECT_EQ(bot.CreateLinkToken(key, LinkKind::kPrivate).error().code(),
            StatusCode::kPermissionDenied);
}

TEST_P(TelegramBotTest, UnlinksFromEitherSide) {
  ASSERT_TRUE(world_->Link(owner_, 1001));
  ASSERT_OK(world_->bot().Unlink(owner_));
  ASSERT_TRUE(world_->fake().WaitForMessage(1001, "unlinked from this chat on the Sinyal website",
                                            seconds(10)));
  EXPECT_FALSE(world_->bot().GetLink(owner_)->linked);
  EXPECT_EQ(world_->bot().Unlink(owner_).code(), StatusCode::kNotFound);
  // From the chat: /stop.
  ASSERT_TRUE(world_->Link(owner_, 1001));
  Ask(1001, 1001, "/stop", "unlinked");
  EXPECT_FALSE(world_->bot().GetLink(owner_)->linked);
  // Commands from the now unlinked account are refused.
  Ask(1001, 1001, "/usage", "not linked");
}

TEST_P(TelegramBotTest, EveryCommandAnswersInEnglishAndInIndonesian) {
  ASSERT_TRUE(world_->Link(owner_, 1001, "en"));
  ASSERT_TRUE(world_->Link(member_, 2002, "id"));  // language from the Telegram app: Indonesian

  // English.
  Ask(1001, 1001, "/help", "Sinyal commands");
  Ask(1001, 1001, "/alerts", "No alerts yet");
  std::string added = Ask(1001, 1001, "/alerts add synusd 1h 0.6", "Alert #");
  EXPECT_NE(added.find("SYNUSD H1 >= 0.60"), std::string::npos) << added;
  Ask(1001, 1001, "/alerts add SYNUSD 1h 65% bearish", "bearish");
  std::string list = Ask(1001, 1001, "/alerts", "Alerts:");
  EXPECT_NE(list.find(">= 0.65 bearish"), std::string::npos) << list;
  Ask(1001, 1001, "/alerts add SYNUSD 1h 0.3", "Minimum confidence between 0.50 and 0.99");
  Ask(1001, 1001, "/alerts add NOSUCH 1h 0.6", "no model serves NOSUCH H1");
  Ask(1001, 1001, "/alerts mute", "All alerts in this chat are muted");
  Ask(1001, 1001, "/alerts", "are muted");
  Ask(1001, 1001, "/alerts unmute", "on again");
  auto alerts = world_->bot().ListAlerts(owner_);
  ASSERT_OK(alerts);
  ASSERT_EQ(alerts->size(), 2u);
  Ask(1001, 1001, "/alerts mute " + std::to_string((*alerts)[0].id), "muted.");
  Ask(1001, 1001, "/alerts remove " + std::to_string((*alerts)[1].id), "removed");
  Ask(1001, 1001, "/alerts remove 999999", "There is no alert #999999");
  Ask(1001, 1001, "/usage", "This period's usage (plan pro)");
  Ask(1001, 1001, "/plan", "Plan: Pro");
  Ask(1001, 1001, "/paper", "no paper trading account yet");
  Ask(1001, 1001, "/frobnicate", "Unknown command: /frobnicate");
  Ask(1001, 1001, "hello there", "I only understand commands");
  Ask(1001, 1001, "/lang xx", "Use: /lang en or /lang id");

  // Bahasa Indonesia.
  Ask(2002, 2002, "/help", "Perintah Sinyal");
  Ask(2002, 2002, "/alerts", "Belum ada peringatan");
  Ask(2002, 2002, "/alerts add SYNUSD 1h 0,7", "Peringatan #");
  Ask(2002, 2002, "/alerts mute", "dibisukan");
  Ask(2002, 2002, "/alerts unmute", "aktif lagi");
  Ask(2002, 2002, "/usage", "Pemakaian periode ini");
  Ask(2002, 2002, "/plan", "Paket: Pro");
  Ask(2002, 2002, "/paper", "belum punya akun paper trading");
  Ask(2002, 2002, "/frobnicate", "Perintah tidak dikenal");
  Ask(2002, 2002, "halo", "Saya hanya mengerti perintah");
  // Switching language.
  Ask(1001, 1001, "/lang id", "Bahasa Indonesia");
  Ask(1001, 1001, "/help", "Perintah Sinyal");
  Ask(1001, 1001, "/lang en", "Language: English");
  Ask(2002, 2002, "/stop", "telah diputus");
}

TEST_P(TelegramBotTest, PaperShowsTheUsersOwnAccountsOnly) {
  ASSERT_TRUE(world_->Link(owner_, 1001));
  ASSERT_TRUE(world_->Link(member_, 2002, "id"));
  backtest::PaperCreateRequest req;
  req.name = "Swing SYN";
  req.strategy = nlohmann::json::parse(
      R"({"symbols": ["SYNUSD"], "timeframe": "H1", "initial_balance": 20000, "signal": {"threshold": 0.6}})");
  auto created = world_->paper().Create(tenant_, owner_.user, req);
  ASSERT_OK(created);
  std::string en = Ask(1001, 1001, "/paper", "Paper trading accounts (simulated, not real money)");
  EXPECT_NE(en.find("#" + std::to_string(created->account.id) + " Swing SYN (active)"),
            std::string::npos)
      << en;
  EXPECT_NE(en.find("Equity 20000.00"), std::string::npos) << en;
  EXPECT_NE(en.find("No open positions"), std::string::npos) << en;
  // The member of the same organisation has none: another user's accounts are never shown.
  Ask(2002, 2002, "/paper", "belum punya akun paper trading");
  ASSERT_OK(world_->paper().Create(tenant_, member_.user, req).status());
  std::string id = Ask(2002, 2002, "/paper", "Akun paper trading (simulasi");
  EXPECT_NE(id.find("Ekuitas 20000.00"), std::string::npos) << id;
  EXPECT_EQ(id.find("#" + std::to_string(created->account.id) + " "), std::string::npos) << id;
  // In a group, /paper is private.
  const int64_t group = -777;
  world_->fake().SetChatMember(group, 1001, "creator");
  auto token = world_->bot().CreateLinkToken(owner_, LinkKind::kGroup);
  ASSERT_OK(token);
  Ask(1001, group, "/start@sinyal_fake_bot " + token->token, "Group linked");
  Ask(1001, group, "/paper", "only in a private chat");
}

TEST_P(TelegramBotTest, HostileAndUnlinkedInputGetsClearAnswersAndChangesNothing) {
  // An unlinked user: told how to link, in their app's language; nothing else happens.
  Ask(3003, 3003, "/alerts add SYNUSD 1h 0.6", "not linked");
  Ask(3004, 3004, "/usage", "belum terhubung", "id-ID");
  Ask(3003, 3003, "/signal EURUSD 1h", "not linked");
  Ask(3003, 3003, "hi", "To link your account");
  // A 10,000-character message: refused with its length, never parsed nor echoed.
  const std::string huge = "/alerts add " + std::string(10000 - 12, 'A');
  std::string answer = Ask(3003, 3003, huge, "too long (10000 characters");
  EXPECT_LT(answer.size(), 300u);
  ASSERT_TRUE(world_->Link(owner_, 1001));
  answer = Ask(1001, 1001, huge, "too long");
  EXPECT_LT(answer.size(), 300u);
  // Garbage and odd commands.
  Ask(1001, 1001, "/alerts add", "Use: /alerts");
  Ask(1001, 1001, "/alerts frob", "Use: /alerts");
  Ask(1001, 1001, "/alerts remove abc", "Use: /alerts");
  Ask(1001, 1001, "/alerts add SYNUSD 7h 0.6", "Alert not added");
  Ask(1001, 1001, "/\xF0\x9F\x92\xA3", "I only understand commands");
  EXPECT_TRUE(world_->bot().ListAlerts(owner_)->empty());
  // Bots and channels are ignored (no reply), but their updates are still confirmed.
  world_->fake().InjectUpdate({{"message",
                                {{"message_id", 1},
                                 {"from", {{"id", 77}, {"is_bot", true}}},
                                 {"chat", {{"id", 77}, {"type", "private"}}},
                                 {"text", "/help"}}}});
  world_->fake().InjectUpdate(
      {{"channel_post", {{"chat", {{"id", -5}, {"type", "channel"}}}, {"text", "/help"}}}});
  world_->fake().InjectUpdate({{"message", "not an object"}});
  Settle();
  EXPECT_TRUE(world_->fake().SentTo(77).empty());
  EXPECT_TRUE(world_->fake().SentTo(-5).empty());
}

// /signal is an API call by another door: gated by the plan, metered one unit to the linked
// user's organisation, at the plan's data delay; refusals cost nothing.
TEST_P(TelegramBotTest, SignalCommandIsMeteredAndGatedLikeTheApi) {
  ASSERT_NE(world_->CloseNextBar(), nullptr);
  ASSERT_TRUE(world_->Link(owner_, 1001));
  auto used = [&](TenantId t) {
    world_->meter().Flush();
    auto u = world_->meter().Usage(t, world_->clock().Now(), 0);
    EXPECT_TRUE(u.ok());
    return u.ok() ? (*u)["used"].get<int64_t>() : -1;
  };
  const int64_t before = used(tenant_);
  std::string answer = Ask(1001, 1001, "/signal synusd 1h", "SYNUSD H1");
  EXPECT_NE(answer.find("Quota left"), std::string::npos) << answer;
  EXPECT_EQ(used(tenant_), before + 1);
  Ask(1001, 1001, "/lang id", "Bahasa Indonesia");
  answer = Ask(1001, 1001, "/signal SYNUSD 1h", "Sisa kuota");
  EXPECT_EQ(used(tenant_), before + 2);
  Ask(1001, 1001, "/lang en", "English");
  // Malformed: the usage line, nothing charged.
  Ask(1001, 1001, "/signal", "Use: /signal");
  Ask(1001, 1001, "/signal SYNUSD 7h", "Use: /signal");
  Ask(1001, 1001, "/signal NOPE 1h", "Can't do that");
  EXPECT_EQ(used(tenant_), before + 2);
  // Free: H4 is not in the plan (403 of the API: the plan that has it); H1 at Free's delay.
  const TenantId free_tenant = world_->CreateTenant("Free Co", "free");
  auto user = world_->CreateUser(free_tenant, "f@example.com", Role::kOwner);
  ASSERT_TRUE(world_->Link(user, 4004));
  answer = Ask(4004, 4004, "/signal SYNUSD 4h", "Can't do that");
  EXPECT_NE(answer.find("requires plan pro"), std::string::npos) << answer;
  EXPECT_EQ(used(free_tenant), 0);
}

TEST_P(TelegramBotTest, PlansWithoutTelegramAlertsAreRefusedNamingThePlan) {
  const TenantId free_tenant = world_->CreateTenant("Free Co", "free");
  auto user = world_->CreateUser(free_tenant, "f@example.com", Role::kOwner);
  ASSERT_TRUE(world_->Link(user, 4004));
  std::string answer = Ask(4004, 4004, "/alerts add SYNUSD 1h 0.6", "Alert not added");
  EXPECT_NE(answer.find("requires plan pro"), std::string::npos) << answer;
  auto api = world_->bot().AddAlert(user, {.symbol = "SYNUSD", .timeframe = "1h"});
  ASSERT_FALSE(api.ok());
  EXPECT_EQ(api.error().code(), StatusCode::kPermissionDenied);
  // Commands that are not alerts work on Free too.
  Ask(4004, 4004, "/plan", "Plan: Free");
}

TEST_P(TelegramBotTest, GroupsAreLinkedByTheirOwnerAndAnswerOnlyTheOrganisationsMembers) {
  const int64_t group = -100500;
  ASSERT_TRUE(world_->Link(owner_, 1001));
  ASSERT_TRUE(world_->Link(member_, 2002));
  // Members can't ask for group links.
  EXPECT_EQ(world_->bot().CreateLinkToken(member_, LinkKind::kGroup).error().code(),
            StatusCode::kPermissionDenied);
  auto token = world_->bot().CreateLinkToken(owner_, LinkKind::kGroup);
  ASSERT_OK(token);
  EXPECT_NE(token->deep_link.find("?startgroup="), std::string::npos);
  // Another user with the owner's group token: refused.
  Ask(2002, group, "/start@sinyal_fake_bot " + token->token, "belongs to another Sinyal user");
  // The owner, but not the group's creator on Telegram: refused.
  world_->fake().SetChatMember(group, 1001, "administrator");
  Ask(1001, group, "/start@sinyal_fake_bot " + token->token, "Only the owner (creator)");
  // The group's creator: linked, rules stated.
  world_->fake().SetChatMember(group, 1001, "creator");
  std::string linked = Ask(1001, group, "/start@sinyal_fake_bot " + token->token, "Group linked");
  EXPECT_NE(linked.find("Member rules"), std::string::npos);
  EXPECT_EQ(world_->bot().GetLink(owner_)->groups.size(), 1u);
  // A private token used in a group is the wrong kind.
  auto priv = world_->bot().CreateLinkToken(owner_, LinkKind::kPrivate);
  Ask(1001, group, "/start " + priv->token, "another kind of chat");

  // Member rules: the owner manages group alerts; a member may list but not change them.
  Ask(1001, group, "/alerts add SYNUSD 1h 0.6", "Alert #");
  Ask(2002, group, "/alerts", "SYNUSD H1");
  Ask(2002, group, "/alerts add SYNUSD 1h 0.7", "Only owners or admins");
  Ask(2002, group, "/usage", "Only owners or admins");
  Ask(1001, group, "/help@sinyal_fake_bot", "This group is linked to Toko Sinyal");
  // Strangers and members of other organisations are ignored; commands for other bots too.
  const TenantId other = world_->CreateTenant("Other Org");
  auto stranger = world_->CreateUser(other, "s@example.com", Role::kOwner);
  ASSERT_TRUE(world_->Link(stranger, 5005));
  const size_t before = world_->fake().SentTo(group).size();
  world_->fake().InjectText(5005, group, "/alerts add SYNUSD 1h 0.6");
  world_->fake().InjectText(6006, group, "/help");
  world_->fake().InjectText(1001, group, "/help@other_bot");
  world_->fake().InjectText(1001, group, "just chatting");
  Settle();
  EXPECT_EQ(world_->fake().SentTo(group).size(), before);
  // Alerts of the group are listed to the organisation over the API.
  EXPECT_EQ(world_->bot().ListAlerts(member_)->size(), 1u);
  // Another organisation can't take the group over.
  auto other_token = world_->bot().CreateLinkToken(stranger, LinkKind::kGroup);
  ASSERT_OK(other_token);
  world_->fake().SetChatMember(group, 5005, "creator");
  Ask(5005, group, "/start@sinyal_fake_bot " + other_token->token,
      "already linked to another organisation");
  // /stop by the owner unlinks the group.
  Ask(1001, group, "/stop", "This group is unlinked");
  EXPECT_TRUE(world_->bot().GetLink(owner_)->groups.empty());
}

TEST_P(TelegramBotTest, ABlockedBotIsMarkedAndUnblockingRestoresIt) {
  ASSERT_TRUE(world_->Link(owner_, 1001));
  world_->fake().InjectMemberChange(1001, 1001, "kicked");
  Settle();
  EXPECT_TRUE(world_->bot().GetLink(owner_)->blocked);
  world_->fake().InjectMemberChange(1001, 1001, "member");
  Settle();
  EXPECT_FALSE(world_->bot().GetLink(owner_)->blocked);
  // Blocked without telling us: the send fails with 403, the link is marked.
  world_->fake().Block(1001);
  ASSERT_OK(world_->bot().Notify({.tenant = tenant_,
                                  .kind = billing::NoticeKind::kRenewalDue,
                                  .event_id = "inv-1",
                                  .plan = "Pro",
                                  .amount_idr = 149000,
                                  .due_at = 1'800'000'000LL * kNanosPerSecond}));
  ASSERT_TRUE(world_->bot().send_queue().WaitIdle(seconds(10)));
  EXPECT_TRUE(world_->bot().GetLink(owner_)->blocked);
  EXPECT_EQ(world_->fake().stats().send_blocked, 1);
}

TEST_P(TelegramBotTest, AccountNoticesReachOwnersAndAdminsOncePerEvent) {
  ASSERT_TRUE(world_->Link(owner_, 1001));
  ASSERT_TRUE(world_->Link(member_, 2002, "id"));
  TelegramBot& bot = world_->bot();
  ASSERT_OK(bot.Notify({.tenant = tenant_,
                        .kind = billing::NoticeKind::kPaymentSettled,
                        .event_id = "order-1",
                        .plan = "Pro",
                        .amount_idr = 149000}));
  ASSERT_OK(bot.Notify({.tenant = tenant_,
                        .kind = billing::NoticeKind::kPaymentSettled,
                        .event_id = "order-1",
                        .plan = "Pro",
                        .amount_idr = 149000}));  // Midtrans sent it twice
  ASSERT_OK(bot.Notify({.tenant = tenant_,
                        .kind = billing::NoticeKind::kPaymentFailed,
                        .event_id = "order-2",
                        .plan = "Pro",
                        .amount_idr = 149000,
                        .detail = "card declined"}));
  ASSERT_OK(bot.Notify({.tenant = tenant_,
                        .kind = billing::NoticeKind::kRenewalDue,
                        .event_id = "inv-7",
                        .plan = "Pro",
                        .amount_idr = 149000,
                        .due_at = 1'800'000'000LL * kNanosPerSecond}));
  ASSERT_TRUE(bot.send_queue().WaitIdle(seconds(10)));
  std::vector<std::string> texts;
  for (const auto& m : world_->fake().SentTo(1001)) texts.push_back(m.text);
  auto count = [&](const std::string& needle) {
    return std::count_if(texts.begin(), texts.end(),
                         [&](const std::string& t) { return t.find(needle) != std::string::npos; });
  };
  EXPECT_EQ(count("Payment of Rp 149.000 for the Pro plan received"), 1);
  EXPECT_EQ(count("failed (card declined)"), 1);
  EXPECT_EQ(count("renewal is due 2027-01-15"), 1);
  // The member is not an owner or admin: no billing notices.
  for (const auto& m : world_->fake().SentTo(2002))
    EXPECT_EQ(m.text.find("Pembayaran"), std::string::npos);
  EXPECT_EQ(bot.Notify({.tenant = tenant_, .kind = billing::NoticeKind::kPaymentSettled}).code(),
            StatusCode::kInvalidArgument);
}

TEST_P(TelegramBotTest, QuotaNoticesAt80And100PercentOncePerPeriod) {
  // A plan with a quota of 10 calls.
  ASSERT_OK(world_->plans().Update("free", {{"monthly_quota", 10}}, "test").status());
  const TenantId t = world_->CreateTenant("Small Co", "free");
  auto owner = world_->CreateUser(t, "o@example.com", Role::kOwner);
  ASSERT_TRUE(world_->Link(owner, 7007));
  auto use = [&](int n) {
    for (int i = 0; i < n; ++i) {
      billing::MeterCall call{.tenant = t, .user = owner.user, .endpoint = "user.predict"};
      auto r = world_->meter().Reserve(call, world_->clock().Now());
      ASSERT_OK(r.status());
      ASSERT_OK(
          world_->meter().Commit(std::move(r->reservation), nlohmann::json::object()).status());
    }
  };
  use(7);
  EXPECT_EQ(*world_->bot().CheckQuotas(), 0);
  use(1);
  EXPECT_EQ(*world_->bot().CheckQuotas(), 1);
  EXPECT_EQ(*world_->bot().CheckQuotas(), 0);  // once per period
  use(2);
  EXPECT_EQ(*world_->bot().CheckQuotas(), 1);
  ASSERT_TRUE(world_->bot().send_queue().WaitIdle(seconds(10)));
  auto sent = world_->fake().SentTo(7007);
  ASSERT_GE(sent.size(), 3u);
  EXPECT_NE(sent[sent.size() - 2].text.find("used 80% of your Free quota: 8 / 10"),
            std::string::npos);
  EXPECT_NE(sent.back().text.find("quota is used up: 10 / 10"), std::string::npos);
}

TEST_P(TelegramBotTest, WebhookSecretsAreCheckedAndUpdatesHandledOnce) {
  world_->StopBot();
  TelegramOptions o = world_->Options();
  o.mode = UpdateMode::kWebhook;
  o.webhook_secret = "correct-horse-battery-staple_42";
  TelegramBot& bot = world_->StartBot(o);
  const std::string update =
      R"({"update_id":555,"message":{"message_id":1,"from":{"id":8008,"is_bot":false},"chat":{"id":8008,"type":"private"},"text":"/help"}})";
  EXPECT_EQ(bot.HandleWebhook("", update).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(bot.HandleWebhook("correct-horse-battery-staple_41", update).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(bot.HandleWebhook("x", update).code(), StatusCode::kUnauthenticated);
  ASSERT_TRUE(bot.send_queue().WaitIdle(seconds(5)));
  EXPECT_TRUE(world_->fake().SentTo(8008).empty());  // forged: nothing read, nothing sent
  EXPECT_EQ(bot.HandleWebhook(o.webhook_secret, "{not json").code(), StatusCode::kInvalidArgument);
  ASSERT_OK(bot.HandleWebhook(o.webhook_secret, update));
  ASSERT_OK(bot.HandleWebhook(o.webhook_secret, update));  // Telegram retried
  ASSERT_TRUE(bot.send_queue().WaitIdle(seconds(5)));
  EXPECT_EQ(world_->fake().SentTo(8008).size(), 1u);
}

TEST_P(TelegramBotTest, NoUpdateIsLostOrHandledTwiceAcrossRestarts) {
  for (int i = 0; i < 5; ++i) world_->fake().InjectText(9000 + i, 9000 + i, "/help");
  Settle();
  world_->StopBot();
  // Updates that arrive while the bot is down wait at Telegram.
  for (int i = 5; i < 10; ++i) world_->fake().InjectText(9000 + i, 9000 + i, "/help");
  // A restart: the stored offset confirms what was handled; the rest is handled once.
  world_->StartBot();
  Settle();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(world_->fake().SentTo(9000 + i).size(), 1u) << i;
  // A redelivery of a handled update (as after a crash before the offset was stored, or a
  // webhook retry) changes nothing: its id was recorded with its effects.
  auto first = ParseUpdate(nlohmann::json{{"update_id", 1000},
                                          {"message",
                                           {{"message_id", 1},
                                            {"from", {{"id", 9000}, {"is_bot", false}}},
                                            {"chat", {{"id", 9000}, {"type", "private"}}},
                                            {"text", "/help"}}}});
  ASSERT_OK(first);
  ASSERT_OK(world_->bot().HandleUpdate(*first));
  Settle();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(world_->fake().SentTo(9000 + i).size(), 1u) << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, TelegramBotTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::notify
