// Structured JSON logging on top of spdlog: one JSON object per line, with "ts", "level",
// "event" and the given fields. Never pass secrets (passwords, tokens, keys) as fields.
#pragma once

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string_view>

namespace sinyal {

// Configures the default spdlog logger to write raw JSON lines to stderr at `level`
// ("trace".."critical", "off"). Returns false for an unknown level name.
bool ConfigureJsonLogging(std::string_view level);

// Logs {"ts":..., "level":..., "event": event, ...fields} (fields must be a JSON object).
void LogEvent(spdlog::level::level_enum level, std::string_view event, nlohmann::json fields = {});

}  // namespace sinyal
