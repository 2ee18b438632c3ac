#include "http/json_body.h"

#include <cmath>

namespace sinyal::http {
namespace {

constexpr std::string_view kMalformed = "malformed JSON";

Status TypeError(const std::string& name, std::string_view want) {
  return Status::InvalidArgument("must be " + std::string(want), name);
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra = c < 0x80           ? 0
                   : (c >> 5) == 0x6  ? 1
                   : (c >> 4) == 0xE  ? 2
                   : (c >> 3) == 0x1E ? 3
                                      : 4;
    if (extra == 4 || i + extra >= s.size() + (extra == 0 ? 1 : 0)) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

bool IsMalformedJson(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument && s.message().rfind(kMalformed, 0) == 0;
}

Result<JsonBody> JsonBody::Parse(const Request& request) {
  std::string_view ct = request.Header("content-type");
  if (ct.substr(0, ct.find(';')) != "application/json") {
    return Status(StatusCode::kUnsupportedMediaType, "Content-Type must be application/json",
                  "content-type");
  }
  if (request.body.empty())
    return Status::InvalidArgument(std::string(kMalformed) + ": empty body", "body");
  nlohmann::json j = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Report the byte offset of the error without echoing the input.
    try {
      [[maybe_unused]] auto again = nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
      return Status::InvalidArgument(
          std::string(kMalformed) + ": syntax error at byte " + std::to_string(e.byte), "body");
    } catch (const nlohmann::json::exception&) {
      // e.g. out_of_range for a number too large for a double
      return Status::InvalidArgument(std::string(kMalformed) + ": a number is out of range",
                                     "body");
    }
    return Status::InvalidArgument(std::string(kMalformed), "body");
  }
  return FromJson(std::move(j));
}

Result<JsonBody> JsonBody::FromJson(nlohmann::json j) {
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object", "body");
  return JsonBody(std::move(j));
}

const nlohmann::json* JsonBody::Find(const std::string& name) {
  seen_.insert(name);
  auto it = json_.find(name);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

const nlohmann::json* JsonBody::Raw(const std::string& name) { return Find(name); }

Result<std::optional<std::string>> JsonBody::OptionalString(const std::string& name,
                                                            StringRule rule) {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(name, "a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() < rule.min_len)
    return Status::InvalidArgument(
        "must be at least " + std::to_string(rule.min_len) + " characters", name);
  if (s.size() > rule.max_len)
    return Status::InvalidArgument(
        "must be at most " + std::to_string(rule.max_len) + " characters", name);
  if (!IsValidUtf8(s)) return Status::InvalidArgument("must be valid UTF-8", name);
  return std::optional<std::string>(s);
}

Result<std::string> JsonBody::String(const std::string& name, StringRule rule) {
  SINYAL_ASSIGN_OR_RETURN(auto s, OptionalString(name, rule));
  if (!s) return Status::InvalidArgument("is required", name);
  return *std::move(s);
}

Result<std::optional<int64_t>> JsonBody::OptionalInt(const std::string& name, int64_t min,
                                                     int64_t max) {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::optional<int64_t>();
  int64_t x = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return Status::InvalidArgument("out of range", name);
    x = v->get<int64_t>();
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15)
      return TypeError(name, "an integer");
    x = static_cast<int64_t>(d);
  } else {
    return TypeError(name, "an integer");
  }
  if (x < min || x > max)
    return Status::InvalidArgument(
        "must be between " + std::to_string(min) + " and " + std::to_string(max), name);
  return std::optional<int64_t>(x);
}

Result<int64_t> JsonBody::Int(const std::string& name, int64_t min, int64_t max) {
  SINYAL_ASSIGN_OR_RETURN(auto x, OptionalInt(name, min, max));
  if (!x) return Status::InvalidArgument("is required", name);
  return *x;
}

Result<std::optional<double>> JsonBody::OptionalNumber(const std::string& name, double min,
                                                       double max) {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::optional<double>();
  if (!v->is_number()) return TypeError(name, "a number");
  double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    nlohmann::json lo = min, hi = max;
    return Status::InvalidArgument("must be between " + lo.dump() + " and " + hi.dump(), name);
  }
  return std::optional<double>(d);
}

Result<double> JsonBody::Number(const std::string& name, double min, double max) {
  SINYAL_ASSIGN_OR_RETURN(auto x, OptionalNumber(name, min, max));
  if (!x) return Status::InvalidArgument("is required", name);
  return *x;
}

Result<std::optional<bool>> JsonBody::OptionalBool(const std::string& name) {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return TypeError(name, "true or false");
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<std::vector<std::string>>> JsonBody::OptionalStringList(
    const std::string& name, size_t max_items, StringRule rule) {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (!v->is_array()) return TypeError(name, "an array of strings");
  if (v->size() > max_items)
    return Status::InvalidArgument("must have at most " + std::to_string(max_items) + " items",
                                   name);
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    std::string field = name + "[" + std::to_string(i) + "]";
    if (!item.is_string()) return TypeError(field, "a string");
    const std::string& s = item.get_ref<const std::string&>();
    if (s.size() < rule.min_len || s.size() > rule.max_len || !IsValidUtf8(s))
      return Status::InvalidArgument(
          "must be 1.." + std::to_string(rule.max_len) + " characters of UTF-8", field);
    out.push_back(s);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Status JsonBody::Finish() const {
  for (auto it = json_.begin(); it != json_.end(); ++it) {
    if (!seen_.count(it.key())) {
      std::string key = it.key().size() > 64 ? it.key().substr(0, 64) + "..." : it.key();
      if (!IsValidUtf8(key)) key = "(non-UTF-8 name)";
      // An empty name is shown as "" so that the error always names a field (an empty field
      // name reached the problem+json; found by fuzz/predict_request_fuzz.cc).
      if (key.empty()) key = "\"\"";
      return Status::InvalidArgument("unknown field", key);
    }
  }
  return Status::Ok();
}

}  // namespace sinyal::http
