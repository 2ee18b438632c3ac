// Property test of request parsing: thousands of malformed, mutated and hostile bodies sent to
// every JSON endpoint over real HTTP. The property: never a 5xx, always a problem+json 4xx (or a
// 2xx for the rare mutation that is valid), and the server stays up.
#include <random>

#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

std::string Mutate(std::string s, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> op(0, 5);
  int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n && !s.empty(); ++i) {
    size_t pos = rng() % s.size();
    switch (op(rng)) {
      case 0:
        s.erase(pos, 1 + rng() % 3);
        break;  // delete
      case 1:
        s.insert(pos, 1, static_cast<char>(rng() % 256));
        break;  // insert a random byte
      case 2:
        s[pos] = static_cast<char>(rng() % 256);
        break;  // flip a byte
      case 3:
        s = s.substr(0, pos);
        break;  // truncate
      case 4:
        s.insert(pos, s.substr(rng() % s.size(), 8));
        break;  // duplicate a chunk
      case 5: {
        static const char* tokens[] = {"null",        "true",        "1e999",
                                       "-0",          "\"\\ud800\"", "[]",
                                       "{}",          "\"x\"",       "18446744073709551616",
                                       "\"\\u0000\"", ",",           ":",
                                       "\"",          "\\"};
        s.insert(pos, tokens[rng() % 14]);
        break;
      }
    }
  }
  return s;
}

TEST(FuzzE2E, MalformedBodiesNeverCause5xxOrCrash) {
  ServerProcess server(ServerProcess::Options{});
  std::string why;
  ASSERT_TRUE(server.Start(&why)) << why;
  HttpClient client(server.base_url());
  auto reg = RegisterTenant(client, "fuzz");
  std::string token = reg["access_token"];
  std::string auth = "Authorization: Bearer " + token;

  struct Target {
    std::string method, path, seed;
  };
  std::vector<Target> targets = {
      {"POST", "/api/v1/auth/register",
       R"({"tenant_name":"a","email":"a@b.example","password":"0123456789abc","display_name":"x"})"},
      {"POST", "/api/v1/auth/login", R"({"email":"nobody@b.example","password":"0123456789"})"},
      {"POST", "/api/v1/auth/refresh", R"({"refresh_token":"abc"})"},
      {"POST", "/api/v1/auth/logout", R"({"refresh_token":"abc"})"},
      {"POST", "/api/v1/api-keys",
       R"({"name":"k","scopes":["read"],"expires_at":"2099-01-01T00:00:00Z"})"},
      {"POST", "/api/v1/members",
       R"({"email":"m@b.example","password":"0123456789abc","role":"member"})"},
      {"PATCH", "/api/v1/members/1", R"({"role":"admin"})"},
  };
  // Fixed hostile bodies first, then seeded random mutations.
  std::vector<std::string> fixed = {
      "",
      " ",
      "null",
      "[]",
      "\"str\"",
      "42",
      "{",
      "}",
      "{\"a\":",
      "{\"a\" 1}",
      "{'a':1}",
      std::string(300000, '[') + std::string(300000, ']'),  // deep nesting
      "{\"a\":" + std::string(100000, '9') + "}",           // huge number
      "{\"email\":\"\\ud800\",\"password\":1}",             // lone surrogate
      std::string("{\"email\":\"a\0b\"}", 15),              // NUL byte
      "\xef\xbb\xbf{}",                                     // BOM
      "{\"email\":{\"$gt\":\"\"},\"password\":[]}",         // type confusion
  };
  std::mt19937_64 rng(20261121);
  int sent = 0, client_errors = 0, ok = 0;
  auto check = [&](const Target& t, const std::string& body) {
    auto r = client.Request(t.method, t.path, body, {"Content-Type: application/json", auth});
    ++sent;
    ASSERT_NE(r.status, 0) << "transport error (server crashed?) on body of " << body.size()
                           << " bytes: " << r.error;
    ASSERT_LT(r.status, 500) << t.path << " body: " << body.substr(0, 200) << "\n" << r.body;
    if (r.status >= 400) {
      ++client_errors;
      ASSERT_EQ(r.Header("content-type"), "application/problem+json") << t.path;
      auto j = r.Json();
      ASSERT_TRUE(j.is_object() && j.contains("type") && j.contains("detail")) << r.body;
    } else {
      ++ok;
    }
  };
  for (const auto& t : targets) {
    for (const auto& body : fixed) {
      check(t, body);
      if (::testing::Test::HasFatalFailure()) return;
    }
    for (int i = 0; i < 700; ++i) {
      check(t, Mutate(t.seed, rng));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GE(sent, 5000);
  EXPECT_GT(client_errors, sent * 8 / 10);
  EXPECT_EQ(client.Get("/readyz").status, 200);
  std::printf("fuzz: %d bodies, %d rejected with 4xx problem+json, %d accepted\n", sent,
              client_errors, ok);
}

}  // namespace
}  // namespace sinyal::e2e
