#include "http/json_body.h"

#include "core/testing/test_util.h"

namespace sinyal::http {
namespace {

Request JsonRequest(std::string body) {
  Request r;
  r.method = "POST";
  r.headers.emplace_back("content-type", "application/json; charset=utf-8");
  r.body = std::move(body);
  return r;
}

TEST(JsonBodyTest, ReadsTypedFieldsAndRejectsUnknownOnes) {
  auto body = JsonBody::Parse(JsonRequest(R"({"name":"x","n":3,"p":0.5,"extra":true})"));
  ASSERT_OK(body);
  EXPECT_EQ(*body->String("name"), "x");
  EXPECT_EQ(*body->Int("n", 0, 10), 3);
  EXPECT_DOUBLE_EQ(*body->Number("p", 0, 1), 0.5);
  Status s = body->Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.field(), "extra");
  EXPECT_EQ(s.message(), "unknown field");
}

// Found by fuzz/predict_request_fuzz.cc (input kept in fuzz/corpus/predict_request/): an unknown
// field with an empty name was reported with an empty field name.
TEST(JsonBodyTest, UnknownFieldWithAnEmptyNameIsNamed) {
  auto body = JsonBody::Parse(JsonRequest(R"({"symbol": "EURUSD", "": 0.6})"));
  ASSERT_OK(body);
  ASSERT_OK(body->String("symbol"));
  Status s = body->Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.field(), "\"\"");
}

TEST(JsonBodyTest, NamesTheFieldOnWrongTypesAndRanges) {
  auto body = JsonBody::Parse(JsonRequest(R"({"n":"3","p":1.5,"s":"","l":[1]})"));
  ASSERT_OK(body);
  EXPECT_EQ(body->Int("n", 0, 10).error().field(), "n");
  EXPECT_EQ(body->Number("p", 0, 1).error().field(), "p");
  EXPECT_EQ(body->String("s", {.min_len = 1}).error().field(), "s");
  EXPECT_EQ(body->OptionalStringList("l", 4).error().field(), "l[0]");
  EXPECT_EQ(body->String("missing").error().message(), "is required");
  EXPECT_EQ(body->Int("big", 0, 10).error().field(), "big");
}

TEST(JsonBodyTest, MalformedAndWrongContentType) {
  for (const char* bad : {"", "{", "[1,2]", "nul", "{\"a\":}", "{\"a\":1}}", "\xff\xfe"}) {
    auto r = JsonBody::Parse(JsonRequest(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().field(), "body");
  }
  EXPECT_TRUE(IsMalformedJson(JsonBody::Parse(JsonRequest("{")).error()));
  auto huge = JsonBody::Parse(JsonRequest("{\"a\":" + std::string(5000, '9') + "}"));
  ASSERT_FALSE(huge.ok());
  EXPECT_TRUE(IsMalformedJson(huge.error()));
  EXPECT_FALSE(IsMalformedJson(JsonBody::Parse(JsonRequest("[1]")).error()));
  Request r = JsonRequest("{}");
  r.headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(JsonBody::Parse(r).error().code(), StatusCode::kUnsupportedMediaType);
}

TEST(JsonBodyTest, IntegerEdges) {
  auto body = JsonBody::Parse(JsonRequest(R"({"a":1e3,"b":1.5,"c":18446744073709551615,"d":-1})"));
  ASSERT_OK(body);
  EXPECT_EQ(*body->Int("a", 0, 10000), 1000);
  EXPECT_FALSE(body->Int("b", 0, 10).ok());
  EXPECT_FALSE(body->Int("c", 0, INT64_MAX).ok());
  EXPECT_FALSE(body->Int("d", 0, 10).ok());
}

}  // namespace
}  // namespace sinyal::http
