#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "core/clock.h"
#include "core/time.h"

namespace sinyal {

bool ConfigureJsonLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_logger_mt("sinyal");
  logger->set_pattern("%v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return true;
}

void LogEvent(spdlog::level::level_enum level, std::string_view event, nlohmann::json fields) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  nlohmann::json line = {{"ts", FormatIso8601(SystemClock::Instance().Now())},
                         {"level", std::string(spdlog::level::to_string_view(level).data(),
                                               spdlog::level::to_string_view(level).size())},
                         {"event", event}};
  if (fields.is_object()) line.update(fields);
  spdlog::default_logger_raw()->log(
      level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace sinyal
