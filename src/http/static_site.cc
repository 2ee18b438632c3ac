#include "http/static_site.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string_view>

namespace sinyal::http {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";
constexpr std::string_view kHour = "public, max-age=3600";

constexpr std::string_view kNotBuiltPage = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sinyal</title></head>
<body><h1>Sinyal</h1><p>The dashboard is not built. Run <code>scripts/build.sh</code>
(it runs <code>npm ci</code> and <code>npm run build</code> in <code>web/</code>), or set
<code>server.web_dir</code>. The API is served: see <a href="/docs">/docs</a>.</p></body></html>
)html";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string ContentType(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (EndsWith(path, ext)) return std::string(type);
  }
  return "application/octet-stream";
}

std::string ETagOf(std::string_view body) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016zx\"", std::hash<std::string_view>{}(body));
  return buf;
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool AcceptsGzip(const Request& request) {
  std::string_view accept = request.Header("accept-encoding");
  return accept.find("gzip") != std::string_view::npos;
}

// A client route of the single-page app: not the API, not an asset, no file extension.
bool IsClientRoute(std::string_view path) {
  if (StartsWith(path, "/api/") || path == "/api" || StartsWith(path, "/assets/") ||
      StartsWith(path, "/docs"))
    return false;
  std::string_view last = path.substr(path.rfind('/') + 1);
  return last.find('.') == std::string_view::npos;
}

}  // namespace

Result<std::unique_ptr<StaticSite>> StaticSite::Load(const std::string& dir) {
  auto site = std::unique_ptr<StaticSite>(new StaticSite());
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return site;
  size_t total = 0;
  std::map<std::string, std::string, std::less<>> gz;  // "/x.js" -> gzip bytes of it
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string rel = "/" + fs::relative(it->path(), dir, ec).generic_string();
    SINYAL_ASSIGN_OR_RETURN(std::string body, ReadFile(it->path()));
    total += body.size();
    if (total > kMaxTotalBytes) {
      return Status::InvalidArgument(
          "the files under " + dir + " exceed " + std::to_string(kMaxTotalBytes >> 20) + " MiB",
          "server.web_dir");
    }
    if (EndsWith(rel, ".gz")) {
      gz.emplace(rel.substr(0, rel.size() - 3), std::move(body));
      continue;
    }
    File file{.body = std::move(body), .gzip = {}, .content_type = ContentType(rel), .etag = {}};
    file.etag = ETagOf(file.body);
    site->files_.emplace(std::move(rel), std::move(file));
  }
  if (ec) return Status::Unavailable("cannot list " + dir + ": " + ec.message());
  for (auto& [path, bytes] : gz) {
    auto it = site->files_.find(path);
    if (it != site->files_.end()) it->second.gzip = std::move(bytes);
  }
  return site;
}

std::optional<Response> StaticSite::Send(const Request& request, const File& file,
                                         std::string cache_control) const {
  Response r;
  r.headers.emplace_back("cache-control", std::move(cache_control));
  r.headers.emplace_back("etag", file.etag);
  if (!file.gzip.empty()) r.headers.emplace_back("vary", "Accept-Encoding");
  if (request.Header("if-none-match") == file.etag) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.status = 200;
  r.content_type = file.content_type;
  if (StartsWith(file.content_type, "text/html")) {
    // The app talks only to its own origin (REST and the WebSocket stream) and is never framed.
    r.headers.emplace_back(
        "content-security-policy",
        "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'");
    r.headers.emplace_back("x-content-type-options", "nosniff");
    r.headers.emplace_back("referrer-policy", "same-origin");
  }
  if (!file.gzip.empty() && AcceptsGzip(request)) {
    r.headers.emplace_back("content-encoding", "gzip");
    r.body = file.gzip;
  } else {
    r.body = file.body;
  }
  return r;
}

std::optional<Response> StaticSite::Serve(const Request& request) const {
  if (request.method != "GET") return std::nullopt;
  std::string_view path = request.path;
  if (path != "/" && path != "/index.html") {
    if (auto it = files_.find(path); it != files_.end()) {
      return Send(request, it->second,
                  std::string(StartsWith(path, "/assets/") ? kImmutable : kHour));
    }
    if (!IsClientRoute(path)) return std::nullopt;
  }
  auto index = files_.find(std::string_view("/index.html"));
  if (index == files_.end()) {
    if (path != "/") return std::nullopt;
    Response r = Response::Text(200, std::string(kNotBuiltPage), "text/html; charset=utf-8");
    r.headers.emplace_back("cache-control", std::string(kRevalidate));
    return r;
  }
  return Send(request, index->second, std::string(kRevalidate));
}

}  // namespace sinyal::http
