#include "http/query.h"

namespace sinyal::http {

Status OnlyQueryParams(const Context& ctx, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : ctx.request.query) {
    bool ok = false;
    for (auto a : allowed) ok = ok || k == a;
    if (!ok) {
      return Status::InvalidArgument("unknown query parameter '" + k.substr(0, 40) + "'",
                                     k.substr(0, 40));
    }
  }
  return Status::Ok();
}

std::optional<std::string> QueryParam(const Context& ctx, std::string_view name) {
  auto it = ctx.request.query.find(name);
  if (it == ctx.request.query.end()) return std::nullopt;
  return it->second;
}

Result<std::string> RequiredQueryParam(const Context& ctx, std::string_view name) {
  auto v = QueryParam(ctx, name);
  if (!v || v->empty()) {
    return Status::InvalidArgument("query parameter '" + std::string(name) + "' is required",
                                   std::string(name));
  }
  return *v;
}

Result<int64_t> IntQueryParam(const Context& ctx, std::string_view name, int64_t fallback,
                              int64_t min, int64_t max) {
  auto v = QueryParam(ctx, name);
  if (!v) return fallback;
  const std::string field(name);
  if (v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("must be an integer", field);
  }
  const int64_t x = std::stoll(*v);
  if (x < min || x > max) {
    return Status::InvalidArgument(
        "must be between " + std::to_string(min) + " and " + std::to_string(max), field);
  }
  return x;
}

}  // namespace sinyal::http
