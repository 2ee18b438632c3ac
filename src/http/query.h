// Query-string helpers shared by the route handlers. Errors name the parameter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/http.h"

namespace sinyal::http {

// InvalidArgument naming the first query parameter that is not in `allowed`.
Status OnlyQueryParams(const Context& ctx, std::initializer_list<std::string_view> allowed);
// The parameter's value, or nullopt when absent.
std::optional<std::string> QueryParam(const Context& ctx, std::string_view name);
// The parameter's value; InvalidArgument("... is required", name) when absent or empty.
Result<std::string> RequiredQueryParam(const Context& ctx, std::string_view name);
// The parameter as an integer in [lo, hi], or `fallback` when absent; InvalidArgument naming it
// otherwise.
Result<int64_t> IntQueryParam(const Context& ctx, std::string_view name, int64_t fallback,
                              int64_t lo, int64_t hi);

}  // namespace sinyal::http
