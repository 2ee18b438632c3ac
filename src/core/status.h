// Status and Result<T>: how errors cross module boundaries in Sinyal.
//
// Follows leveldb's Status: a cheap value that is either OK or carries a code, a message for
// the client, and optionally the name of the offending field. Codes list client errors first,
// then server errors (as userver's HandlerErrorCode); http/ maps each code to one HTTP status
// in one place. Result<T> has the shape of C++23 std::expected so it can become an alias later.
//
// Thread safety: values; safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sinyal {

enum class StatusCode {
  kOk = 0,
  // Client errors: the request was wrong; retrying it unchanged will fail again.
  kInvalidArgument,       // malformed or out-of-range input (400/422)
  kUnauthenticated,       // no or bad credentials (401)
  kPermissionDenied,      // authenticated but not allowed, e.g. plan gating (403)
  kNotFound,              // no such object *for this tenant* (404)
  kAlreadyExists,         // unique constraint, duplicate (409)
  kConflict,              // state conflict, e.g. overlapping import, concurrent update (409)
  kFailedPrecondition,    // operation not allowed in the current state (409/422)
  kPayloadTooLarge,       // body or file over the limit (413)
  kUnsupportedMediaType,  // wrong Content-Type (415)
  kQuotaExceeded,         // plan quota used up (402)
  kRateLimited,           // too many requests (429)
  // Server errors: our fault or an unavailable dependency.
  kInternal,
  kUnavailable,
  kDataLoss,
};

// Stable lower-case name of a code ("invalid_argument"); used as the problem+json type suffix.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg, std::string field = {}) {
    return {StatusCode::kInvalidArgument, std::move(msg), std::move(field)};
  }
  static Status Unauthenticated(std::string msg) {
    return {StatusCode::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg, std::string field = {}) {
    return {StatusCode::kPermissionDenied, std::move(msg), std::move(field)};
  }
  static Status NotFound(std::string msg, std::string field = {}) {
    return {StatusCode::kNotFound, std::move(msg), std::move(field)};
  }
  static Status AlreadyExists(std::string msg, std::string field = {}) {
    return {StatusCode::kAlreadyExists, std::move(msg), std::move(field)};
  }
  static Status Conflict(std::string msg, std::string field = {}) {
    return {StatusCode::kConflict, std::move(msg), std::move(field)};
  }
  static Status FailedPrecondition(std::string msg, std::string field = {}) {
    return {StatusCode::kFailedPrecondition, std::move(msg), std::move(field)};
  }
  static Status PayloadTooLarge(std::string msg) {
    return {StatusCode::kPayloadTooLarge, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The request field (JSON pointer-ish "a.b[2]") or file location ("line 17") at fault; may be empty.
  const std::string& field() const { return field_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status WithContext(std::string_view context) const;
  // Returns a copy with the field set (replacing any previous one).
  Status WithField(std::string field) const;

  // "invalid_argument: message (field: x)"; for logs and test failures.
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.field_ == b.field_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

// Result<T>: a T or a non-OK Status. Shape of std::expected<T, Status>.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  bool has_value() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok()
  const Status& error() const { return std::get<Status>(v_); }
  // OK when holding a value, the error otherwise.
  Status status() const { return ok() ? Status() : error(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sinyal

// Evaluates `expr` (a Status or Result); returns its Status from the enclosing function if not OK.
#define SINYAL_RETURN_IF_ERROR(expr)                                               \
  do {                                                                             \
    auto&& sinyal_status_ = (expr);                                                \
    if (!sinyal_status_.ok()) return ::sinyal::internal::ToStatus(sinyal_status_); \
  } while (0)

#define SINYAL_CONCAT_INNER_(a, b) a##b
#define SINYAL_CONCAT_(a, b) SINYAL_CONCAT_INNER_(a, b)
// SINYAL_ASSIGN_OR_RETURN(auto x, FunctionReturningResult());
#define SINYAL_ASSIGN_OR_RETURN(lhs, expr) \
  SINYAL_ASSIGN_OR_RETURN_IMPL_(SINYAL_CONCAT_(sinyal_result_, __LINE__), lhs, expr)
#define SINYAL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.error();                  \
  lhs = std::move(tmp).value()

namespace sinyal::internal {
inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.error();
}
}  // namespace sinyal::internal
