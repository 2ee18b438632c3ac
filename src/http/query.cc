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

}  // namespace sinyal::http
