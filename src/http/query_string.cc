#include "http/query_string.h"

#include <restinio/uri_helpers.hpp>
#include <restinio/utils/percent_encoding.hpp>

namespace sinyal::http {
namespace {
std::string ToStd(restinio::string_view_t s) { return std::string(s.data(), s.size()); }
}  // namespace

std::optional<QueryParams> ParseQueryString(std::string_view raw) {
  auto query = restinio::try_parse_query<restinio::parse_query_traits::relaxed>(
      restinio::string_view_t(raw.data(), raw.size()));
  if (!query) return std::nullopt;
  QueryParams out;
  for (const auto& [k, v] : *query) out.emplace(ToStd(k), ToStd(v));
  return out;
}

std::string DecodePath(std::string_view raw) {
  auto unescaped = restinio::utils::try_unescape_percent_encoding<
      restinio::utils::restinio_default_unescape_traits>(
      restinio::string_view_t(raw.data(), raw.size()));
  return unescaped ? *unescaped : std::string(raw);
}

}  // namespace sinyal::http
