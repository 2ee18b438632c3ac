#include "http/static_site.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/testing/test_util.h"
#include "http/pipeline.h"

namespace sinyal::http {
namespace {

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class StaticSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "assets");
    Write("index.html", "<!doctype html><div id=root></div>");
    Write("assets/index-AbC123.js", "console.log(1)");
    Write("assets/index-AbC123.js.gz", "GZIPBYTES");
    Write("favicon.svg", "<svg/>");
    auto site = StaticSite::Load(dir_.path().string());
    ASSERT_OK(site);
    site_ = std::move(site).value();
  }

  void Write(const std::string& rel, const std::string& body) {
    std::ofstream(dir_.path() / rel, std::ios::binary) << body;
  }

  static Request Get(std::string path, Headers headers = {}) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.headers = std::move(headers);
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<StaticSite> site_;
};

TEST_F(StaticSiteTest, HashedAssetsAreImmutableAndGzippedWhenAccepted) {
  auto plain = site_->Serve(Get("/assets/index-AbC123.js"));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->body, "console.log(1)");
  EXPECT_EQ(plain->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(*plain, "cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(HeaderOf(*plain, "content-encoding"), "");
  EXPECT_EQ(HeaderOf(*plain, "vary"), "Accept-Encoding");

  auto gz =
      site_->Serve(Get("/assets/index-AbC123.js", {{"accept-encoding", "gzip, deflate, br"}}));
  ASSERT_TRUE(gz.has_value());
  EXPECT_EQ(gz->body, "GZIPBYTES");
  EXPECT_EQ(HeaderOf(*gz, "content-encoding"), "gzip");
  // The .gz file itself is not a separate page.
  EXPECT_EQ(site_->file_count(), 3u);
}

TEST_F(StaticSiteTest, IndexIsRevalidatedAndClientRoutesFallBackToIt) {
  for (const char* path :
       {"/", "/index.html", "/signals", "/models/EURUSD/1h", "/operator/tenants"}) {
    auto r = site_->Serve(Get(path));
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, "<!doctype html><div id=root></div>") << path;
    EXPECT_EQ(HeaderOf(*r, "cache-control"), "no-cache") << path;
    EXPECT_NE(HeaderOf(*r, "content-security-policy").find("frame-ancestors 'none'"),
              std::string::npos);
  }
  std::string etag = HeaderOf(*site_->Serve(Get("/")), "etag");
  ASSERT_FALSE(etag.empty());
  auto again = site_->Serve(Get("/signals", {{"if-none-match", etag}}));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  auto icon = site_->Serve(Get("/favicon.svg"));
  ASSERT_TRUE(icon.has_value());
  EXPECT_EQ(HeaderOf(*icon, "cache-control"), "public, max-age=3600");
}

TEST_F(StaticSiteTest, ApiPathsMissingAssetsAndOtherMethodsAreNotServed) {
  EXPECT_FALSE(site_->Serve(Get("/api/v1/nope")).has_value());
  EXPECT_FALSE(site_->Serve(Get("/api")).has_value());
  EXPECT_FALSE(site_->Serve(Get("/assets/missing-123.js")).has_value());
  EXPECT_FALSE(site_->Serve(Get("/robots.txt")).has_value());
  EXPECT_FALSE(site_->Serve(Get("/assets/../index.html")).has_value());
  EXPECT_FALSE(site_->Serve(Get("/index-AbC123.js.map")).has_value());
  Request post = Get("/signals");
  post.method = "POST";
  EXPECT_FALSE(site_->Serve(post).has_value());
}

TEST_F(StaticSiteTest, PipelineServesFilesOnlyWhereNoRouteMatches) {
  RouteTable routes;
  routes.Add(
      {.method = "GET", .pattern = "/api/v1/thing", .handler = [](Context&) -> Result<Response> {
         return Response::Json(200, {{"route", true}});
       }});
  Metrics metrics;
  ManualClock clock(1'700'000'000 * kNanosPerSecond);
  Pipeline pipeline(routes, nullptr, metrics, clock, {.access_log = false, .site = site_.get()});
  EXPECT_EQ(pipeline.Handle(0, Get("/api/v1/thing")).body, "{\"route\":true}");
  Response page = pipeline.Handle(-1, Get("/keys"));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  Response missing = pipeline.Handle(-1, Get("/api/v1/unknown"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/problem+json");
}

TEST(StaticSiteEmptyTest, MissingDirectoryServesABuildHintAtTheRootOnly) {
  auto site = StaticSite::Load("/nonexistent/sinyal-web-dist");
  ASSERT_OK(site);
  EXPECT_FALSE((*site)->has_index());
  Request root;
  root.method = "GET";
  root.path = "/";
  auto r = (*site)->Serve(root);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->body.find("scripts/build.sh"), std::string::npos);
  root.path = "/signals";
  EXPECT_FALSE((*site)->Serve(root).has_value());
}

}  // namespace
}  // namespace sinyal::http
