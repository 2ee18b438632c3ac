// BotClient against the FAKE Bot API server over real HTTP on loopback, and the answer
// classification the send queue depends on.
#include "notify/bot_api.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/testing/test_util.h"
#include "notify/testing/fake_bot_api.h"

namespace sinyal::notify {
namespace {

using nlohmann::json;
using testing::FakeBotApi;

std::unique_ptr<FakeBotApi> StartFake() {
  auto fake = FakeBotApi::Start({});
  EXPECT_TRUE(fake.ok()) << fake.error().ToString();
  return std::move(fake).value();
}

BotApiOptions ClientOptions(const FakeBotApi& fake) {
  BotApiOptions o;
  o.base_url = fake.base_url();
  o.token = fake.options().token;
  o.timeout = std::chrono::milliseconds(3000);
  return o;
}

TEST(ClassifyAnswerTest, MapsTelegramErrorsToWhatTheQueueDoes) {
  EXPECT_EQ(ClassifyAnswer(200, R"({"ok":true,"result":{"message_id":5}})").kind, ApiResult::kOk);
  ApiOutcome limited = ClassifyAnswer(
      429,
      R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}})");
  EXPECT_EQ(limited.kind, ApiResult::kRateLimited);
  EXPECT_EQ(limited.retry_after, 7);
  EXPECT_EQ(
      ClassifyAnswer(
          403,
          R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})")
          .kind,
      ApiResult::kBlocked);
  EXPECT_EQ(ClassifyAnswer(
                400, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})")
                .kind,
            ApiResult::kBlocked);
  ApiOutcome migrated = ClassifyAnswer(
      400,
      R"({"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}})");
  EXPECT_EQ(migrated.kind, ApiResult::kMigrated);
  EXPECT_EQ(migrated.migrate_to_chat_id, -1001234);
  EXPECT_EQ(
      ClassifyAnswer(
          400, R"({"ok":false,"error_code":400,"description":"Bad Request: message is too long"})")
          .kind,
      ApiResult::kBadRequest);
  EXPECT_EQ(
      ClassifyAnswer(401, R"({"ok":false,"error_code":401,"description":"Unauthorized"})").kind,
      ApiResult::kUnauthorized);
  EXPECT_EQ(ClassifyAnswer(502, "<html>bad gateway</html>").kind, ApiResult::kServerError);
  // A 2xx whose body can't be read may have been carried out: never resent.
  EXPECT_EQ(ClassifyAnswer(200, "garbage").kind, ApiResult::kUncertain);
  // 429 without parameters still waits (1 s).
  EXPECT_EQ(ClassifyAnswer(429, R"({"ok":false,"error_code":429,"description":"x"})").retry_after,
            1);
}

TEST(ParseUpdateTest, ReadsMessagesAndRejectsMalformedOnes) {
  auto u = ParseUpdate(json::parse(
      R"({"update_id":10,"message":{"message_id":3,"from":{"id":42,"is_bot":false,"username":"ayu","language_code":"id"},"chat":{"id":42,"type":"private"},"text":"/help"}})"));
  ASSERT_OK(u);
  EXPECT_EQ(u->update_id, 10);
  ASSERT_TRUE(u->message.has_value());
  EXPECT_EQ(u->message->from->id, 42);
  EXPECT_EQ(u->message->from->language_code, "id");
  EXPECT_EQ(u->message->text, "/help");
  EXPECT_FALSE(u->message->chat.is_group());

  EXPECT_EQ(ParseUpdate(json::parse(R"({"message":{}})")).error().field(), "update_id");
  EXPECT_EQ(ParseUpdate(json::parse(R"({"update_id":1,"message":{"text":"x"}})")).error().field(),
            "message.chat");
  EXPECT_EQ(
      ParseUpdate(json::parse(R"({"update_id":1,"message":{"chat":{"id":"x"}}})")).error().field(),
      "message.chat.id");
  EXPECT_FALSE(ParseUpdate(json::parse("[1,2]")).ok());
  // Unknown update kinds parse (and are ignored by the bot).
  ASSERT_OK(ParseUpdate(json::parse(R"({"update_id":2,"channel_post":{"chat":{"id":-5}}})")));
}

TEST(SplitMessageTest, KeepsPartsWithinTheLimitAndUtf8Whole) {
  EXPECT_TRUE(SplitMessage("").empty());
  EXPECT_EQ(SplitMessage("short"), std::vector<std::string>{"short"});
  std::string lines;
  for (int i = 0; i < 300; ++i) lines += "line " + std::to_string(i) + " of a long answer\n";
  auto parts = SplitMessage(lines, 1000);
  ASSERT_GT(parts.size(), 1u);
  std::string joined;
  for (const auto& p : parts) {
    EXPECT_LE(Utf8Length(p), 1000u);
    joined += p + "\n";
  }
  EXPECT_EQ(joined, lines);  // cut at line breaks, nothing lost
  // Multi-byte characters are never cut: "é" is two bytes.
  std::string accents;
  for (int i = 0; i < 5000; ++i) accents += "\xC3\xA9";
  auto split = SplitMessage(accents);
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(Utf8Length(split[0]), kMaxMessageChars);
  EXPECT_EQ(Utf8Length(split[1]), 5000 - kMaxMessageChars);
}

TEST(BotClientTest, SendsAndTheFakeRecords) {
  auto fake = StartFake();
  BotClient client(ClientOptions(*fake));
  auto me = client.GetMe();
  ASSERT_OK(me);
  EXPECT_EQ(me->username, "sinyal_fake_bot");
  ApiOutcome out = client.SendMessage({.chat_id = 42, .text = "Halo, apa kabar? \xF0\x9F\x93\x88"});
  ASSERT_TRUE(out.ok()) << out.description;
  EXPECT_GT(out.result["message_id"].get<int64_t>(), 0);
  auto sent = fake->SentTo(42);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].text, "Halo, apa kabar? \xF0\x9F\x93\x88");
}

TEST(BotClientTest, ClassifiesTheFakesFaults) {
  auto fake = StartFake();
  BotClient client(ClientOptions(*fake));
  fake->AddFault({.kind = testing::FaultKind::kRateLimit, .count = 1, .retry_after = 3});
  ApiOutcome limited = client.SendMessage({.chat_id = 1, .text = "a"});
  EXPECT_EQ(limited.kind, ApiResult::kRateLimited);
  EXPECT_EQ(limited.retry_after, 3);
  fake->AddFault({.kind = testing::FaultKind::kServerError, .count = 1, .http_status = 502});
  EXPECT_EQ(client.SendMessage({.chat_id = 1, .text = "a"}).kind, ApiResult::kServerError);
  fake->Block(7);
  EXPECT_EQ(client.SendMessage({.chat_id = 7, .text = "a"}).kind, ApiResult::kBlocked);
  EXPECT_EQ(client.SendMessage({.chat_id = 1, .text = std::string(kMaxMessageChars + 1, 'x')}).kind,
            ApiResult::kBadRequest);
  EXPECT_EQ(fake->SentCount(), 0u);
  // Wrong token.
  BotApiOptions wrong = ClientOptions(*fake);
  wrong.token = "1:wrong";
  BotClient bad(wrong);
  EXPECT_EQ(bad.SendMessage({.chat_id = 1, .text = "a"}).kind, ApiResult::kUnauthorized);
}

TEST(BotClientTest, AnAnswerSlowerThanTheTimeoutIsUncertainButWasDelivered) {
  auto fake = StartFake();
  BotApiOptions o = ClientOptions(*fake);
  o.timeout = std::chrono::milliseconds(300);
  BotClient client(o);
  fake->AddFault({.kind = testing::FaultKind::kSlow, .count = 1, .delay_ms = 1500});
  ApiOutcome out = client.SendMessage({.chat_id = 5, .text = "slow"});
  EXPECT_EQ(out.kind, ApiResult::kUncertain) << out.description;
  EXPECT_EQ(fake->SentTo(5).size(), 1u);  // Telegram had it: resending would duplicate it
  // Nothing listening: not sent, safe to retry.
  BotApiOptions closed = o;
  closed.base_url = "http://127.0.0.1:1";
  BotClient nowhere(closed);
  EXPECT_EQ(nowhere.SendMessage({.chat_id = 5, .text = "x"}).kind, ApiResult::kNotSent);
}

TEST(BotClientTest, LongPollingWaitsForAnUpdateAndConfirmsByOffset) {
  auto fake = StartFake();
  BotClient client(ClientOptions(*fake));
  std::thread injector([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    fake->InjectText(42, 42, "/help", "ayu", "id");
  });
  auto start = std::chrono::steady_clock::now();
  auto got = client.GetUpdates(0, 5, 100);
  injector.join();
  ASSERT_OK(got);
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(4));  // answered on arrival
  ASSERT_EQ(got->updates.size(), 1u);
  const int64_t id = got->updates[0].update_id;
  EXPECT_EQ(got->updates[0].message->text, "/help");
  // Not confirmed yet: the same update comes again.
  auto again = client.GetUpdates(0, 0, 100);
  ASSERT_OK(again);
  ASSERT_EQ(again->updates.size(), 1u);
  // Confirmed by offset = id + 1.
  auto confirmed = client.GetUpdates(id + 1, 0, 100);
  ASSERT_OK(confirmed);
  EXPECT_TRUE(confirmed->updates.empty());
  EXPECT_EQ(fake->PendingUpdates(), 0u);
  // A timeout with nothing new answers an empty list.
  auto empty = client.GetUpdates(id + 1, 1, 100);
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->updates.empty());
}

TEST(BotClientTest, AWebhookMakesGetUpdatesConflict) {
  auto fake = StartFake();
  BotClient client(ClientOptions(*fake));
  ASSERT_OK(client.SetWebhook("http://127.0.0.1:1/hook", "s3cret"));
  EXPECT_EQ(fake->WebhookUrl().value_or(""), "http://127.0.0.1:1/hook");
  auto got = client.GetUpdates(0, 0, 10);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code(), StatusCode::kConflict);
  ASSERT_OK(client.DeleteWebhook());
  ASSERT_OK(client.GetUpdates(0, 0, 10));
}

}  // namespace
}  // namespace sinyal::notify
