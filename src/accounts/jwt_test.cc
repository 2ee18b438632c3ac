#include "accounts/jwt.h"

#include "accounts/crypto.h"
#include "core/testing/test_util.h"

namespace sinyal::accounts::jwt {
namespace {

constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";
constexpr int64_t kNow = 1'700'000'000;

nlohmann::json Claims() {
  return {{"iss", "sinyal"}, {"aud", "sinyal-api"}, {"sub", "7"},       {"iat", kNow},
          {"nbf", kNow},     {"exp", kNow + 900},   {"role", "member"}, {"tid", 3}};
}

VerifyOptions Opts(int64_t now = kNow) { return {"sinyal", "sinyal-api", now, 30}; }

TEST(JwtTest, SignThenVerifyReturnsPayload) {
  ASSERT_TRUE(crypto::InitCrypto());
  const std::string token = SignHs256(Claims(), kKey);
  auto payload = VerifyHs256(token, kKey, Opts());
  ASSERT_OK(payload);
  EXPECT_EQ((*payload)["sub"], "7");
  EXPECT_EQ((*payload)["tid"], 3);
  // The header is exactly {"alg":"HS256","typ":"JWT"}.
  auto header = crypto::Base64UrlDecode(token.substr(0, token.find('.')));
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(nlohmann::json::parse(*header), (nlohmann::json{{"alg", "HS256"}, {"typ", "JWT"}}));
}

TEST(JwtTest, LeewayAppliesToExpAndNbf) {
  ASSERT_TRUE(crypto::InitCrypto());
  const std::string token = SignHs256(Claims(), kKey);
  EXPECT_OK(VerifyHs256(token, kKey, Opts(kNow + 900 + 29)));          // within leeway
  EXPECT_FALSE(VerifyHs256(token, kKey, Opts(kNow + 900 + 30)).ok());  // exp + leeway reached
  EXPECT_OK(VerifyHs256(token, kKey, Opts(kNow - 30)));                // nbf within leeway
  EXPECT_FALSE(VerifyHs256(token, kKey, Opts(kNow - 31)).ok());
}

TEST(JwtTest, AudienceMayBeAnArray) {
  ASSERT_TRUE(crypto::InitCrypto());
  auto c = Claims();
  c["aud"] = {"other", "sinyal-api"};
  EXPECT_OK(VerifyHs256(SignHs256(c, kKey), kKey, Opts()));
  c["aud"] = {"other"};
  EXPECT_FALSE(VerifyHs256(SignHs256(c, kKey), kKey, Opts()).ok());
}

TEST(JwtTest, RequiresIntegerTimeClaims) {
  ASSERT_TRUE(crypto::InitCrypto());
  for (const char* claim : {"exp", "nbf", "iat"}) {
    auto c = Claims();
    c.erase(claim);
    EXPECT_FALSE(VerifyHs256(SignHs256(c, kKey), kKey, Opts()).ok()) << claim << " missing";
    c = Claims();
    c[claim] = std::to_string(kNow + 900);
    EXPECT_FALSE(VerifyHs256(SignHs256(c, kKey), kKey, Opts()).ok()) << claim << " as string";
    c[claim] = static_cast<double>(kNow) + 0.5;
    EXPECT_FALSE(VerifyHs256(SignHs256(c, kKey), kKey, Opts()).ok()) << claim << " as float";
  }
  auto c = Claims();
  c["exp"] = 18446744073709551615ull;  // > INT64_MAX
  EXPECT_FALSE(VerifyHs256(SignHs256(c, kKey), kKey, Opts()).ok());
}

TEST(JwtTest, PayloadMustBeAnObject) {
  ASSERT_TRUE(crypto::InitCrypto());
  EXPECT_FALSE(VerifyHs256(SignHs256(nlohmann::json::array({1, 2}), kKey), kKey, Opts()).ok());
}

}  // namespace
}  // namespace sinyal::accounts::jwt
