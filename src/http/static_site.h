// The dashboard's static files (web/dist, built by Vite: scripts/build.sh), loaded into memory once
// at start and served for GET requests no API route matches (Pipeline, PipelineOptions::site).
//
// Caching (docs/dashboard.md):
//   /assets/*      content-hashed by Vite: "public, max-age=31536000, immutable"
//   index.html     "no-cache" with an ETag (If-None-Match -> 304), so a new build shows at once
//   other files    "public, max-age=3600" with an ETag
// Client routes: a GET of a path outside /api/, /assets/ and /docs whose last segment has no '.'
// (e.g. /signals, /keys) answers index.html, so a reload or a shared link opens the page.
// A file "X.gz" beside "X" (written by web/scripts/compress.mjs) is sent instead with
// Content-Encoding: gzip when the request accepts gzip. Source maps are served only if the build
// made them (it doesn't by default). Paths are looked up in the loaded table only: nothing is read
// from disk per request, so no request can reach outside the directory.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "http/http.h"

namespace sinyal::http {

class StaticSite {
 public:
  // Loads every regular file under `dir` (at most kMaxTotalBytes in all). A missing directory is
  // an empty site (has_index() false): the API still serves, "/" answers a page saying how to
  // build the dashboard.
  static Result<std::unique_ptr<StaticSite>> Load(const std::string& dir);
  static constexpr size_t kMaxTotalBytes = 64u << 20;

  // The response for an unmatched request, or nullopt (the caller answers 404 as before).
  std::optional<Response> Serve(const Request& request) const;

  bool has_index() const { return files_.count("/index.html") > 0; }
  size_t file_count() const { return files_.size(); }

 private:
  struct File {
    std::string body;
    std::string gzip;  // empty when there is no .gz sibling
    std::string content_type;
    std::string etag;
  };
  std::optional<Response> Send(const Request& request, const File& file,
                               std::string cache_control) const;
  std::map<std::string, File, std::less<>> files_;  // key: "/relative/path"
};

}  // namespace sinyal::http
