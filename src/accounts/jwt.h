// HS256 JSON Web Tokens (RFC 7519), signed and verified with OpenSSL HMAC-SHA256.
// Written by hand (≈150 lines) rather than with libjwt 1.10, which takes the algorithm from the
// token header and checks neither exp nor nbf (stack-check §4): every check below would have to
// be redone around it anyway.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sinyal::accounts::jwt {

// Tokens longer than this are rejected before any parsing.
inline constexpr size_t kMaxTokenBytes = 4096;

// Returns header {"alg":"HS256","typ":"JWT"} . payload . HMAC-SHA256 signature, base64url.
// REQUIRES: payload is an object.
std::string SignHs256(const nlohmann::json& payload, std::string_view key);

struct VerifyOptions {
  std::string_view issuer;
  std::string_view audience;
  int64_t now_seconds = 0;
  int64_t leeway_seconds = 0;
};

// Verifies `token` and returns its payload. Rejected (Unauthenticated, message "invalid
// token" or "token expired"):
//  - more than kMaxTokenBytes, not exactly three '.'-separated segments, bad base64url;
//  - a header that is not a JSON object, whose alg is not exactly "HS256" (so none, HS512,
//    RS256, missing), whose typ is present but not "JWT", or that has "crit";
//  - a signature that is not the HMAC-SHA256 of "header.payload" (constant-time compare);
//  - a payload that is not a JSON object, lacks integer exp/nbf/iat, or has
//    now >= exp + leeway ("token expired"), now + leeway < nbf, now + leeway < iat;
//  - iss != issuer; aud neither equal to audience nor an array containing it.
[[nodiscard]] Result<nlohmann::json> VerifyHs256(std::string_view token, std::string_view key,
                                                 const VerifyOptions& options);

}  // namespace sinyal::accounts::jwt
