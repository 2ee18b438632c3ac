// Fuzzes the request target's decoding as the server does it (http::ParseQueryString and
// http::DecodePath, over RESTinio's parsers) and the query helpers every route uses
// (http::OnlyQueryParams, RequiredQueryParam, IntQueryParam).
//
// Input: the raw query string (after '?'). Properties: never crashes; parameters re-encoded
// (every byte but the unreserved ones as %XX) parse back to the same parameters; the helpers'
// errors name the parameter.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/http.h"
#include "http/query.h"
#include "http/query_string.h"

using namespace sinyal;
using namespace sinyal::http;

namespace {

std::string Encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  (void)DecodePath(raw);

  auto params = ParseQueryString(raw);
  if (!params) return 0;

  // Round trip.
  std::string encoded;
  for (const auto& [k, v] : *params) {
    if (!encoded.empty()) encoded += '&';
    encoded += Encode(k) + "=" + Encode(v);
  }
  auto again = ParseQueryString(encoded);
  FUZZ_CHECK(again.has_value(), "re-encoded parameters parse");
  FUZZ_CHECK(*again == *params, "re-encoded parameters parse back to the same");

  // The route helpers over the parsed parameters.
  Request req;
  req.method = "GET";
  req.path = "/api/v1/fuzz";
  req.query = *params;
  Context ctx{req};
  Status only = OnlyQueryParams(ctx, {"symbol", "timeframe", "limit", "from", "to", "horizon"});
  if (!only.ok()) {
    FUZZ_CHECK(!params->empty(), "an unknown parameter exists");
    FUZZ_CHECK(only.field().size() <= 40, "the unknown parameter's name is capped");
  }
  auto symbol = RequiredQueryParam(ctx, "symbol");
  if (!symbol.ok())
    FUZZ_CHECK(symbol.error().field() == "symbol", "RequiredQueryParam names the parameter");
  auto limit = IntQueryParam(ctx, "limit", 100, 1, 1000);
  if (limit.ok()) {
    FUZZ_CHECK(*limit >= 1 && *limit <= 1000, "IntQueryParam range");
  } else {
    FUZZ_CHECK(limit.error().field() == "limit", "IntQueryParam names the parameter");
  }
  return 0;
}
