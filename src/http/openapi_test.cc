// The OpenAPI document must describe every route the server registers (and nothing stale).
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "core/testing/test_util.h"
#include "http/api.h"
#include "http/http.h"
#include "http/testing/test_api.h"
#include "store/database.h"
#include "store/testing/test_db.h"

namespace sinyal::http {
namespace {

std::string ToOpenApiPath(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == ':') {
      size_t j = pattern.find('/', i);
      if (j == std::string::npos) j = pattern.size();
      out += "{" + pattern.substr(i + 1, j - i - 1) + "}";
      i = j - 1;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

TEST(OpenApiTest, DocumentsEveryRouteAndNoStaleOnes) {
  auto db = store::testing::OpenMemoryDatabase();
  ASSERT_NE(db, nullptr);
  ManualClock clock(1'700'000'000 * kNanosPerSecond);
  testing::TestApi api(*db, clock);
  const RouteTable& routes = api.routes();

  auto doc = nlohmann::json::parse(OpenApiDocument());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::pair<std::string, std::string>> served;
  for (const Route& r : routes.routes()) {
    std::string path = ToOpenApiPath(r.pattern);
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    served.insert({path, method});
    ASSERT_TRUE(doc["paths"].contains(path))
        << "route missing from openapi.json: " << r.method << " " << path;
    EXPECT_TRUE(doc["paths"][path].contains(method))
        << "method missing from openapi.json: " << r.method << " " << path;
  }
  for (auto& [path, item] : doc["paths"].items()) {
    for (auto& [method, op] : item.items()) {
      EXPECT_TRUE(served.count({path, method}))
          << "openapi.json documents a route the server lacks: " << method << " " << path;
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  }
}

}  // namespace
}  // namespace sinyal::http
