#include "accounts/jwt.h"

#include <limits>
#include <optional>

#include "accounts/crypto.h"

namespace sinyal::accounts::jwt {
namespace {

Status Invalid() { return Status::Unauthenticated("invalid token"); }

std::optional<int64_t> GetInt(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return it->get<int64_t>();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string SignHs256(const nlohmann::json& payload, std::string_view key) {
  static const std::string kHeader = crypto::Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  std::string signing_input = kHeader + "." + crypto::Base64UrlEncode(payload.dump());
  const std::string sig = crypto::HmacSha256(key, signing_input);
  return signing_input + "." + crypto::Base64UrlEncode(sig);
}

Result<nlohmann::json> VerifyHs256(std::string_view token, std::string_view key,
                                   const VerifyOptions& options) {
  if (token.empty() || token.size() > kMaxTokenBytes) return Invalid();
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Invalid();
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid();
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || sig_b64.empty()) return Invalid();

  // Header first: the algorithm is fixed by us, never chosen by the token.
  auto header_raw = crypto::Base64UrlDecode(header_b64);
  if (!header_raw) return Invalid();
  const nlohmann::json header = nlohmann::json::parse(*header_raw, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return Invalid();
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
    return Invalid();
  }
  if (auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string() || !EqualsIgnoreCase(typ->get_ref<const std::string&>(), "JWT")) {
      return Invalid();
    }
  }
  if (header.contains("crit")) return Invalid();  // we implement no extensions

  // Signature over the segments exactly as received.
  auto sig = crypto::Base64UrlDecode(sig_b64);
  if (!sig) return Invalid();
  const std::string expected = crypto::HmacSha256(key, token.substr(0, dot2));
  if (!crypto::ConstantTimeEquals(*sig, expected)) return Invalid();

  auto payload_raw = crypto::Base64UrlDecode(payload_b64);
  if (!payload_raw) return Invalid();
  nlohmann::json payload = nlohmann::json::parse(*payload_raw, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) return Invalid();

  const auto exp = GetInt(payload, "exp");
  const auto nbf = GetInt(payload, "nbf");
  const auto iat = GetInt(payload, "iat");
  if (!exp || !nbf || !iat) return Invalid();
  const int64_t now = options.now_seconds;
  const int64_t leeway = options.leeway_seconds;
  if (now + leeway < *nbf || now + leeway < *iat) return Invalid();
  if (now >= *exp + leeway) return Status::Unauthenticated("token expired");

  auto iss = payload.find("iss");
  if (iss == payload.end() || !iss->is_string() ||
      iss->get_ref<const std::string&>() != options.issuer) {
    return Invalid();
  }
  auto aud = payload.find("aud");
  bool aud_ok = false;
  if (aud != payload.end()) {
    if (aud->is_string()) {
      aud_ok = aud->get_ref<const std::string&>() == options.audience;
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (a.is_string() && a.get_ref<const std::string&>() == options.audience) aud_ok = true;
      }
    }
  }
  if (!aud_ok) return Invalid();
  return payload;
}

}  // namespace sinyal::accounts::jwt
