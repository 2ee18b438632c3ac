#include "notify/commands.h"

#include <cctype>

namespace sinyal::notify {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::optional<Command> ParseCommand(std::string_view text, std::string_view bot_username) {
  if (text.empty() || text[0] != '/') return std::nullopt;
  size_t end = 1;
  while (end < text.size() && !IsSpace(text[end])) ++end;
  std::string_view head = text.substr(1, end - 1);
  std::string_view target;
  if (size_t at = head.find('@'); at != std::string_view::npos) {
    target = head.substr(at + 1);
    head = head.substr(0, at);
  }
  if (head.empty() || head.size() > 32) return std::nullopt;
  for (char c : head) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
  }
  Command cmd;
  cmd.name = Lower(head);
  cmd.for_other_bot = !target.empty() && Lower(target) != Lower(bot_username);
  size_t i = end;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && !IsSpace(text[j])) ++j;
    if (cmd.args.size() + 1 == kMaxCommandArgs) {
      // The rest, as one argument (trailing spaces dropped).
      size_t k = text.size();
      while (k > i && IsSpace(text[k - 1])) --k;
      cmd.args.emplace_back(text.substr(i, k - i));
      break;
    }
    cmd.args.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return cmd;
}

}  // namespace sinyal::notify
