// Strict reading of JSON request bodies: wrong types, out-of-range values and unknown fields are
// errors that name the field. Malformed JSON is reported separately (400) from invalid content (422).
//
//   SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
//   SINYAL_ASSIGN_OR_RETURN(std::string email, body.String("email", {.max_len = 254}));
//   SINYAL_RETURN_IF_ERROR(body.Finish());  // rejects fields that were never read
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/http.h"

namespace sinyal::http {

struct StringRule {
  size_t min_len = 0;
  size_t max_len = 1024;
};

class JsonBody {
 public:
  // Fails with kInvalidArgument and field "body" for a wrong Content-Type (code
  // kUnsupportedMediaType), malformed JSON (message starts "malformed JSON") or a non-object.
  static Result<JsonBody> Parse(const Request& request);
  static Result<JsonBody> FromJson(nlohmann::json j);

  Result<std::string> String(const std::string& name, StringRule rule = {});
  Result<std::optional<std::string>> OptionalString(const std::string& name, StringRule rule = {});
  Result<int64_t> Int(const std::string& name, int64_t min, int64_t max);
  Result<std::optional<int64_t>> OptionalInt(const std::string& name, int64_t min, int64_t max);
  Result<double> Number(const std::string& name, double min, double max);
  Result<std::optional<double>> OptionalNumber(const std::string& name, double min, double max);
  Result<std::optional<bool>> OptionalBool(const std::string& name);
  Result<std::optional<std::vector<std::string>>> OptionalStringList(const std::string& name,
                                                                     size_t max_items,
                                                                     StringRule rule = {});
  // The raw value (nullptr when absent) for nested structures the caller validates itself.
  const nlohmann::json* Raw(const std::string& name);

  // OK when every field of the body was read; otherwise names the first unknown field.
  Status Finish() const;

 private:
  explicit JsonBody(nlohmann::json j) : json_(std::move(j)) {}
  const nlohmann::json* Find(const std::string& name);
  nlohmann::json json_;
  std::set<std::string> seen_;
};

// True when the Status came from JsonBody::Parse for a syntax error (mapped to 400, not 422).
bool IsMalformedJson(const Status& s);

}  // namespace sinyal::http
