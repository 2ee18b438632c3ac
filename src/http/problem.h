// RFC 9457 problem+json: the one place where a Status becomes an HTTP error.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "http/http.h"

namespace sinyal::http {

// "Not Found" for 404 etc.; a generic phrase for codes without one.
std::string_view ReasonPhrase(int status);

// HTTP status for a non-OK Status code (client errors 4xx, server errors 5xx).
int HttpStatusFor(StatusCode code);

// Builds an application/problem+json response:
//   {"type":"urn:sinyal:problem:<code>","title":...,"status":N,"detail":...,"field":...,"request_id":...}
// For server errors the detail is generic: internal messages go to the log, never to the client.
Response ProblemResponse(const Status& status, std::string_view request_id);
// A problem with an explicit HTTP status and type name (e.g. 400 "malformed-json", 404 "not-found").
Response ProblemResponse(int http_status, std::string_view type, std::string_view detail,
                         std::string_view field, std::string_view request_id);

}  // namespace sinyal::http
