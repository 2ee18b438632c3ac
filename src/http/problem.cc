#include "http/problem.h"

#include <nlohmann/json.hpp>

namespace sinyal::http {
namespace {}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "OK";
  }
}

namespace {

std::string TypeName(StatusCode code) {
  std::string s(StatusCodeName(code));
  for (char& c : s) {
    if (c == '_') c = '-';
  }
  return s;
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 422;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kUnsupportedMediaType:
      return 415;
    case StatusCode::kQuotaExceeded:
      return 402;
    case StatusCode::kRateLimited:
      return 429;
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDataLoss:
      return 500;
  }
  return 500;
}

Response ProblemResponse(int http_status, std::string_view type, std::string_view detail,
                         std::string_view field, std::string_view request_id) {
  nlohmann::json body = {
      {"type", "urn:sinyal:problem:" + std::string(type)},
      {"title", ReasonPhrase(http_status)},
      {"status", http_status},
      {"detail", detail},
      {"request_id", request_id},
  };
  if (!field.empty()) body["field"] = field;
  Response r;
  r.status = http_status;
  r.content_type = "application/problem+json";
  // Invalid UTF-8 echoed from a hostile request must not throw while serialising.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (http_status == 401) r.headers.emplace_back("www-authenticate", "Bearer realm=\"sinyal\"");
  return r;
}

Response ProblemResponse(const Status& status, std::string_view request_id) {
  int code = HttpStatusFor(status.code());
  if (code >= 500) {
    return ProblemResponse(code, TypeName(status.code()),
                           code == 503 ? "a dependency is unavailable; retry later"
                                       : "internal error; quote the request id when reporting it",
                           "", request_id);
  }
  return ProblemResponse(code, TypeName(status.code()), status.message(), status.field(),
                         request_id);
}

}  // namespace sinyal::http
