// Parsing chat commands: "/signal@SinyalBot EURUSD 1h" -> {name "signal", args {"EURUSD","1h"}}.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sinyal::notify {

// Longest message read as a command, in characters. Longer messages get a "too long" answer and
// are never parsed or echoed.
inline constexpr size_t kMaxCommandChars = 512;
inline constexpr size_t kMaxCommandArgs = 8;

struct Command {
  std::string name;  // lower case, without '/' and '@bot'; 1..32 of [a-z0-9_]
  std::vector<std::string>
      args;  // whitespace-separated, at most kMaxCommandArgs (extra joined in the last)
  bool for_other_bot = false;  // "/cmd@OtherBot": not addressed to us
};

// nullopt when `text` is not a command (doesn't start with '/', or the name is not
// [A-Za-z0-9_]{1,32}). `bot_username` (without '@') decides for_other_bot (case-insensitive).
std::optional<Command> ParseCommand(std::string_view text, std::string_view bot_username);

}  // namespace sinyal::notify
