// Fuzzes the shared JSON request-body reader (http::JsonBody::Parse and its typed accessors),
// which every POST/PATCH route uses.
//
// Input: the request body. Properties: never crashes; Parse succeeds exactly when the body is a
// JSON object; its errors name the field "body" and syntax errors are IsMalformedJson; every
// accessor's error names the field read; Finish() passes once every field was read and names a
// field otherwise.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "http/http.h"
#include "http/json_body.h"

using namespace sinyal;
using namespace sinyal::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Request req;
  req.method = "POST";
  req.path = "/api/v1/fuzz";
  req.headers = {{"content-type", "application/json; charset=utf-8"}};
  req.body.assign(reinterpret_cast<const char*>(data), size);

  auto body = JsonBody::Parse(req);
  const nlohmann::json j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(body.ok() == (!j.is_discarded() && j.is_object()),
             "Parse accepts exactly JSON objects");
  if (!body.ok()) {
    FUZZ_CHECK(body.error().field() == "body", "a body error names the body");
    FUZZ_CHECK(IsMalformedJson(body.error()) == j.is_discarded(),
               "syntax errors are malformed JSON");
    return 0;
  }

  // Read every field with an accessor chosen by the field name's length: the errors must name it.
  size_t i = 0;
  for (const auto& [name, value] : j.items()) {
    Status s;
    switch ((name.size() + i++) % 8) {
      case 0:
        s = body->String(name, {.min_len = 1, .max_len = 16}).status();
        break;
      case 1:
        s = body->OptionalString(name).status();
        break;
      case 2:
        s = body->Int(name, -1000, 1000).status();
        break;
      case 3:
        s = body->OptionalInt(name, INT64_MIN, INT64_MAX).status();
        break;
      case 4:
        s = body->Number(name, 0.0, 1.0).status();
        break;
      case 5:
        s = body->OptionalBool(name).status();
        break;
      case 6:
        s = body->OptionalStringList(name, 4, {.min_len = 1, .max_len = 8}).status();
        break;
      default:
        (void)body->Raw(name);
        break;
    }
    if (!s.ok()) {
      FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument, "accessor errors are InvalidArgument");
      FUZZ_CHECK(s.field() == name || s.field().rfind(name + "[", 0) == 0,
                 "an accessor error names its field");
    }
  }
  FUZZ_CHECK(body->Finish().ok(), "Finish passes once every field was read");

  // A second reader that reads nothing: Finish names an unknown field when there is one.
  auto unread = JsonBody::FromJson(j);
  FUZZ_CHECK(unread.ok(), "FromJson of an object");
  Status finished = unread->Finish();
  FUZZ_CHECK(finished.ok() == j.empty(), "Finish rejects unread fields");
  if (!finished.ok()) {
    const std::string& f = finished.field();
    const bool shortened = f.size() == 67 && f.compare(64, 3, "...") == 0;  // names over 64 bytes
    const bool empty_name = f == "\"\"" && j.contains("");
    FUZZ_CHECK(j.contains(f) || shortened || empty_name || f == "(non-UTF-8 name)",
               "Finish names a field of the body");
    FUZZ_CHECK(!f.empty(), "Finish never names an empty field");
  }
  return 0;
}
