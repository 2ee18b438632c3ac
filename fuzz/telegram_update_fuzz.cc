// Fuzzes the Telegram update as the webhook and long polling read it (nlohmann::json::parse as in
// TelegramBot::HandleWebhook, then notify::ParseUpdate), the chat command parser
// (notify::ParseCommand) on the message text and on the raw input, and the Bot API answer
// classifier (notify::ClassifyAnswer).
//
// Input: the update body. Properties: never crashes; an error names a field; a parsed message has
// a chat id; a command's name is 1..32 of [a-z0-9_] and it has at most kMaxCommandArgs arguments.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "notify/bot_api.h"
#include "notify/commands.h"

using namespace sinyal;
using namespace sinyal::notify;

namespace {

void CheckCommand(std::string_view text) {
  auto cmd = ParseCommand(text, "SinyalBot");
  if (!cmd) return;
  FUZZ_CHECK(!cmd->name.empty() && cmd->name.size() <= 32, "command name length");
  for (char c : cmd->name) {
    FUZZ_CHECK(std::islower(static_cast<unsigned char>(c)) ||
                   std::isdigit(static_cast<unsigned char>(c)) || c == '_',
               "command name alphabet");
  }
  FUZZ_CHECK(cmd->args.size() <= kMaxCommandArgs, "argument count");
  for (const auto& a : cmd->args) FUZZ_CHECK(!a.empty(), "arguments are not empty");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  CheckCommand(body);
  (void)ClassifyAnswer(size % 2 ? 200 : 429, body);

  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto update = ParseUpdate(j);
  if (!update.ok()) {
    FUZZ_CHECK(update.error().code() == StatusCode::kInvalidArgument, "errors are InvalidArgument");
    FUZZ_CHECK(!update.error().field().empty(), "an error names a field");
    return 0;
  }
  FUZZ_CHECK(update->update_id > 0, "update_id is positive");
  if (update->message) {
    FUZZ_CHECK(update->message->chat.id != 0, "a message has a chat");
    CheckCommand(update->message->text);
  }
  if (update->my_chat_member) {
    FUZZ_CHECK(update->my_chat_member->chat.id != 0 && update->my_chat_member->from.id != 0,
               "a membership change has a chat and a user");
  }
  return 0;
}
