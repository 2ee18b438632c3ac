#include "http/query.h"

#include <charconv>

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
                              int64_t lo, int64_t hi) {
  auto text = QueryParam(ctx, name);
  if (!text) return fallback;
  const std::string field(name);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || p != text->data() + text->size()) {
    return Status::InvalidArgument(field + " must be an integer", field);
  }
  if (v < lo || v > hi) {
    return Status::InvalidArgument(field + " must be in [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "], got " + text->substr(0, 24),
                                   field);
  }
  return v;
}

}  // namespace sinyal::http
