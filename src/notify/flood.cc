#include "notify/flood.h"

#include <algorithm>
#include <cmath>

namespace sinyal::notify {
namespace {
constexpr int64_t kMillis = 1'000'000;
}

int64_t FloodGate::ChatReadyAt(int64_t chat_id) const {
  int64_t ready = 0;
  if (auto it = chat_next_.find(chat_id); it != chat_next_.end()) ready = it->second;
  if (chat_id < 0) {
    auto it = group_log_.find(chat_id);
    if (it != group_log_.end() && static_cast<int>(it->second.size()) >= limits_.group_per_window) {
      // The oldest of the last `group_per_window` sends must leave the window first.
      const int64_t oldest = it->second[it->second.size() - limits_.group_per_window];
      ready = std::max(ready, oldest + limits_.group_window_ms * kMillis);
    }
  }
  return ready;
}

void FloodGate::Record(int64_t chat_id, int64_t now) {
  const double spacing = limits_.global_per_second > 0 ? 1e9 / limits_.global_per_second : 0;
  // Counted from the later of now and the previous slot: a late dispatcher does not make up for
  // lost time with a burst.
  global_next_ = std::max(global_next_, now) + static_cast<int64_t>(std::ceil(spacing));
  chat_next_[chat_id] = now + limits_.per_chat_interval_ms * kMillis;
  if (chat_id < 0) {
    auto& log = group_log_[chat_id];
    log.push_back(now);
    while (static_cast<int>(log.size()) > limits_.group_per_window) log.pop_front();
  }
}

void FloodGate::Pause(int64_t now, int retry_after_seconds) {
  const int64_t until =
      now + std::max(0, retry_after_seconds) * 1'000'000'000LL + limits_.retry_pad_ms * kMillis;
  paused_until_ = std::max(paused_until_, until);
}

void FloodGate::Forget(int64_t chat_id) {
  chat_next_.erase(chat_id);
  group_log_.erase(chat_id);
}

}  // namespace sinyal::notify
