// The request target's decoding, as the server does it: the path's percent-encoding and the
// query string's parameters. Pure functions over RESTinio's parsers, kept out of server.cc so
// that they can be tested and fuzzed (fuzz/query_string_fuzz.cc) without the server.
//
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sinyal::http {

using QueryParams = std::map<std::string, std::string, std::less<>>;

// The decoded parameters of `raw` (the part after '?', without it); nullopt when it is not valid
// percent-encoding. Lenient like RESTinio's "relaxed" traits; for a repeated name the first
// value wins.
std::optional<QueryParams> ParseQueryString(std::string_view raw);

// The percent-decoded path, or `raw` unchanged when it is not valid percent-encoding.
std::string DecodePath(std::string_view raw);

}  // namespace sinyal::http
