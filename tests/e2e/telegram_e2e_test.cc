// Telegram through the real `sinyal serve` binary: the API routes over HTTP, the bot talking to
// the FAKE Bot API server over HTTP (long polling, and webhook mode with its secret header).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "e2e/harness.h"
#include "notify/bot_api.h"
#include "notify/testing/fake_bot_api.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;
using notify::testing::FakeBotApi;
using std::chrono::seconds;

constexpr const char* kSecret = "e2e-webhook-secret_0123456789";

class TelegramE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeBotApi::Start({});
    ASSERT_TRUE(fake.ok()) << fake.error().ToString();
    fake_ = std::move(fake).value();
  }

  std::unique_ptr<ServerProcess> StartServer(const std::string& mode) {
    ServerProcess::Options o;
    o.env = {{"SINYAL_TELEGRAM_BOT_TOKEN", fake_->options().token},
             {"SINYAL_TELEGRAM_API_URL", fake_->base_url()},
             {"SINYAL_TELEGRAM_MODE", mode},
             {"SINYAL_TELEGRAM_WEBHOOK_SECRET", kSecret},
             {"SINYAL_TELEGRAM_POLL_TIMEOUT_SECONDS", "1"},
             {"SINYAL_TELEGRAM_GLOBAL_PER_SECOND", "1000"},
             {"SINYAL_TELEGRAM_PER_CHAT_INTERVAL_MS", "20"}};
    auto server = std::make_unique<ServerProcess>(o);
    std::string why;
    EXPECT_TRUE(server->Start(&why)) << why;
    return server;
  }

  // A message from Telegram user `from` (private chat); waits for a reply containing `needle`.
  std::string Ask(int64_t from, const std::string& text, const std::string& needle) {
    const size_t before = fake_->SentTo(from).size();
    fake_->InjectText(from, from, text);
    auto reply = fake_->WaitForMessage(from, needle, seconds(20), before);
    EXPECT_TRUE(reply.has_value()) << "no reply containing '" << needle << "' to " << text;
    return reply ? reply->text : "";
  }

  std::unique_ptr<FakeBotApi> fake_;
};

TEST_F(TelegramE2eTest, LinkingCommandsAndUnlinkingOverHttpWithLongPolling) {
  auto server = StartServer("polling");
  HttpClient client(server->base_url());
  json reg = RegisterTenant(client, "telegram" + UniqueSuffix());
  const std::string auth = Bearer(reg["access_token"].get<std::string>());

  HttpResult status = client.Get("/api/v1/telegram/link", {auth});
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_FALSE(status.Json()["linked"].get<bool>());

  HttpResult made = client.PostJson("/api/v1/telegram/link", json::object(), {auth});
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string token = made.Json()["token"];
  EXPECT_EQ(made.Json()["deep_link"], "https://t.me/sinyal_fake_bot?start=" + token);
  EXPECT_EQ(client.PostJson("/api/v1/telegram/link", {{"kind", "weird"}}, {auth}).status, 422);
  EXPECT_EQ(client.PostJson("/api/v1/telegram/link", {{"kind", "group"}, {"x", 1}}, {auth}).status,
            422);
  EXPECT_EQ(client.PostJson("/api/v1/telegram/link", json::object()).status, 401);

  Ask(4242, "/start " + token, "Linked!");
  status = client.Get("/api/v1/telegram/link", {auth});
  ASSERT_EQ(status.status, 200);
  EXPECT_TRUE(status.Json()["linked"].get<bool>());
  EXPECT_EQ(status.Json()["telegram_user_id"], 4242);
  // The token was single use.
  Ask(4343, "/start " + token, "already used");

  // Commands in both languages, through the real server.
  Ask(4242, "/help", "Sinyal commands");
  Ask(4242, "/plan", "Plan: Free");
  Ask(4242, "/usage", "This period's usage (plan free)");
  Ask(4242, "/lang id", "Bahasa Indonesia");
  Ask(4242, "/help", "Perintah Sinyal");
  Ask(4242, "/alerts add EURUSD 1h 0.6", "Peringatan tidak ditambahkan");
  Ask(4242, "/nope", "Perintah tidak dikenal");
  // Free has no Telegram alerts: the API says which plan has them.
  HttpResult alert =
      client.PostJson("/api/v1/telegram/alerts",
                      {{"symbol", "EURUSD"}, {"timeframe", "1h"}, {"min_confidence", 0.6}}, {auth});
  EXPECT_EQ(alert.status, 403) << alert.body;
  EXPECT_NE(alert.body.find("requires plan pro"), std::string::npos) << alert.body;
  EXPECT_EQ(
      client
          .PostJson("/api/v1/telegram/alerts",
                    {{"symbol", "EURUSD"}, {"timeframe", "1h"}, {"min_confidence", 2}}, {auth})
          .status,
      422);

  // Unlinking from the web tells the chat.
  EXPECT_EQ(client.Request("DELETE", "/api/v1/telegram/link", "", {auth}).status, 204);
  EXPECT_TRUE(fake_->WaitForMessage(4242, "situs Sinyal", seconds(20)).has_value());
  EXPECT_EQ(client.Request("DELETE", "/api/v1/telegram/link", "", {auth}).status, 404);
  Ask(4242, "/usage", "not linked");
}

TEST_F(TelegramE2eTest, WebhookModeRefusesForgedCallsAndHandlesEachUpdateOnce) {
  auto server = StartServer("webhook");
  HttpClient client(server->base_url());
  const std::string hook = "/api/v1/telegram/webhook";
  const std::string update =
      R"({"update_id":900001,"message":{"message_id":1,"from":{"id":5151,"is_bot":false},"chat":{"id":5151,"type":"private"},"text":"/help"}})";
  // Forged: no secret, a wrong one, a prefix of the right one.
  for (const std::vector<std::string>& headers :
       {std::vector<std::string>{"Content-Type: application/json"},
        std::vector<std::string>{"Content-Type: application/json",
                                 "X-Telegram-Bot-Api-Secret-Token: wrong"},
        std::vector<std::string>{"Content-Type: application/json",
                                 std::string("X-Telegram-Bot-Api-Secret-Token: ") +
                                     std::string(kSecret).substr(0, 10)}}) {
    HttpResult r = client.Request("POST", hook, update, headers);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(fake_->SentTo(5151).empty());  // nothing was read or answered
  const std::string right = std::string("X-Telegram-Bot-Api-Secret-Token: ") + kSecret;
  EXPECT_EQ(client.Request("POST", hook, "{nope", {"Content-Type: application/json", right}).status,
            400);
  EXPECT_EQ(
      client.Request("POST", hook, R"({"message":{}})", {"Content-Type: application/json", right})
          .status,
      422);
  ASSERT_EQ(client.Request("POST", hook, update, {"Content-Type: application/json", right}).status,
            200);
  ASSERT_EQ(client.Request("POST", hook, update, {"Content-Type: application/json", right}).status,
            200);  // retried
  ASSERT_TRUE(fake_->WaitForMessage(5151, "To link your account", seconds(20)).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(fake_->SentTo(5151).size(), 1u);

  // Telegram itself (the FAKE) delivering through the webhook, with the secret.
  notify::BotClient admin({.base_url = fake_->base_url(), .token = fake_->options().token});
  ASSERT_TRUE(admin.SetWebhook(server->base_url() + hook, kSecret).ok());
  Ask(6161, "/help", "To link your account");
  // The FAKE counts a webhook POST when it returns, which may be after the answer it caused arrived.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (fake_->stats().webhook_posts < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(fake_->stats().webhook_posts, 1);
}

}  // namespace
}  // namespace sinyal::e2e
