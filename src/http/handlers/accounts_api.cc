#include <nlohmann/json.hpp>

#include "core/time.h"
#include "http/api.h"
#include "http/json_body.h"

namespace sinyal::http {
namespace {

using accounts::AccountService;
using nlohmann::json;

json UserJson(const accounts::UserInfo& u) {
  json j = {{"id", u.id.value()},
            {"email", u.email},
            {"display_name", u.display_name},
            {"role", accounts::RoleName(u.role)},
            {"created_at", FormatIso8601(u.created_at)}};
  if (u.tenant.valid()) j["tenant"] = {{"id", u.tenant.value()}, {"name", u.tenant_name}};
  return j;
}

json TokensJson(const accounts::TokenPair& t) {
  json j = {
      {"access_token", t.access_token}, {"token_type", "Bearer"}, {"expires_in", t.expires_in}};
  if (!t.refresh_token.empty()) {
    j["refresh_token"] = t.refresh_token;
    j["refresh_expires_at"] = FormatIso8601(t.refresh_expires_at);
  }
  return j;
}

json OptTime(const std::optional<UnixNanos>& t) {
  return t ? json(FormatIso8601(*t)) : json(nullptr);
}

json KeyJson(const accounts::ApiKeyInfo& k) {
  return {{"id", k.id.value()},
          {"name", k.name},
          {"prefix", k.prefix},
          {"scopes", k.scopes},
          {"created_at", FormatIso8601(k.created_at)},
          {"created_by", k.created_by.value()},
          {"last_used_at", OptTime(k.last_used_at)},
          {"expires_at", OptTime(k.expires_at)},
          {"revoked_at", OptTime(k.revoked_at)}};
}

constexpr StringRule kEmail{.min_len = 3, .max_len = 254};
constexpr StringRule kPassword{.min_len = 1, .max_len = 1024};  // policy checked by accounts
constexpr StringRule kName{.min_len = 1, .max_len = 200};
constexpr StringRule kToken{.min_len = 1, .max_len = 512};

}  // namespace

Result<int64_t> ParseIdParam(const Context& ctx, const std::string& name, const std::string& what) {
  auto it = ctx.request.params.find(name);
  if (it == ctx.request.params.end() || it->second.empty() || it->second.size() > 18)
    return Status::NotFound("no such " + what, name);
  int64_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return Status::NotFound("no such " + what, name);
    v = v * 10 + (c - '0');
  }
  if (v <= 0) return Status::NotFound("no such " + what, name);
  return v;
}

namespace {

// An email and password body (register's and the two logins').
struct Credentials {
  std::string email, password;
};
Result<Credentials> ParseCredentials(JsonBody& body) {
  Credentials c;
  SINYAL_ASSIGN_OR_RETURN(c.email, body.String("email", kEmail));
  SINYAL_ASSIGN_OR_RETURN(c.password, body.String("password", kPassword));
  return c;
}

// A member's role as a body may set it: owner, admin or member (never operator).
Result<accounts::Role> ParseMemberRole(const std::string& name) {
  SINYAL_ASSIGN_OR_RETURN(auto role, accounts::ParseRole(name));
  if (role == accounts::Role::kOperator) {
    return Status::InvalidArgument("must be owner, admin or member", "role");
  }
  return role;
}

std::string DefaultDisplayName(const std::optional<std::string>& display,
                               const std::string& email) {
  return display.value_or(email.substr(0, email.find('@')));
}

template <typename T, typename F>
json Items(const std::vector<T>& xs, F to_json) {
  json items = json::array();
  for (const auto& x : xs) items.push_back(to_json(x));
  return {{"items", items}};
}

Result<Response> Register(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  accounts::RegisterRequest req;
  SINYAL_ASSIGN_OR_RETURN(req.tenant_name, body.String("tenant_name", kName));
  SINYAL_ASSIGN_OR_RETURN(auto creds, ParseCredentials(body));
  SINYAL_ASSIGN_OR_RETURN(auto display, body.OptionalString("display_name", kName));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  req.email = std::move(creds.email);
  req.password = std::move(creds.password);
  req.display_name = DefaultDisplayName(display, req.email);
  SINYAL_ASSIGN_OR_RETURN(auto created, svc.Register(req));
  json out = TokensJson(created.second);
  out["user"] = UserJson(created.first);
  return Response::Json(201, out);
}

// POST /auth/login and /operator/login: the same body, a different login.
Result<Response> Login(AccountService& svc, Context& ctx, bool operator_login) {
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(auto creds, ParseCredentials(body));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  SINYAL_ASSIGN_OR_RETURN(auto tokens, operator_login
                                           ? svc.LoginOperator(creds.email, creds.password)
                                           : svc.Login(creds.email, creds.password));
  return Response::Json(200, TokensJson(tokens));
}
Result<Response> UserLogin(AccountService& svc, Context& ctx) { return Login(svc, ctx, false); }
Result<Response> OperatorLogin(AccountService& svc, Context& ctx) { return Login(svc, ctx, true); }

Result<std::string> RefreshTokenBody(Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(auto token, body.String("refresh_token", kToken));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  return token;
}

Result<Response> Refresh(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto token, RefreshTokenBody(ctx));
  SINYAL_ASSIGN_OR_RETURN(auto tokens, svc.Refresh(token));
  return Response::Json(200, TokensJson(tokens));
}

Result<Response> Logout(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto token, RefreshTokenBody(ctx));
  SINYAL_RETURN_IF_ERROR(svc.Logout(token));
  return Response::NoContent();
}

Result<Response> Me(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto me, svc.Me(*ctx.principal));
  json out = UserJson(me);
  out["auth"] = ctx.principal->api_key ? "api_key" : "access_token";
  if (ctx.principal->api_key) {
    out["api_key"] = {{"id", ctx.principal->api_key->value()}, {"scopes", ctx.principal->scopes}};
  }
  return Response::Json(200, out);
}

Result<Response> OperatorMe(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto me, svc.Me(*ctx.principal));
  return Response::Json(200, UserJson(me));
}

Result<Response> CreateFeedKey(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(auto name, body.String("name", kName));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  SINYAL_ASSIGN_OR_RETURN(auto created, svc.CreateOperatorKey(*ctx.principal, name));
  json out = KeyJson(created.info);
  out["key"] = created.secret;
  return Response::Json(201, out);
}

Result<Response> ListFeedKeys(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto keys, svc.ListOperatorKeys(*ctx.principal));
  return Response::Json(200, Items(keys, KeyJson));
}

Result<Response> RevokeFeedKey(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "feed key"));
  SINYAL_RETURN_IF_ERROR(svc.RevokeOperatorKey(*ctx.principal, ApiKeyId(id)));
  return Response::NoContent();
}

Result<Response> ListApiKeys(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto keys, svc.ListApiKeys(*ctx.principal));
  return Response::Json(200, Items(keys, KeyJson));
}

Result<Response> CreateApiKey(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(auto name, body.String("name", kName));
  SINYAL_ASSIGN_OR_RETURN(auto scopes,
                          body.OptionalStringList("scopes", 8, {.min_len = 1, .max_len = 32}));
  SINYAL_ASSIGN_OR_RETURN(auto expires,
                          body.OptionalString("expires_at", {.min_len = 1, .max_len = 64}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  std::optional<UnixNanos> expires_at;
  if (expires) {
    auto t = ParseIso8601(*expires);
    if (!t.ok()) return t.error().WithField("expires_at");
    expires_at = *t;
  }
  SINYAL_ASSIGN_OR_RETURN(
      auto created, svc.CreateApiKey(*ctx.principal, name,
                                     scopes.value_or(std::vector<std::string>{}), expires_at));
  json out = KeyJson(created.info);
  out["key"] = created.secret;
  return Response::Json(201, out);
}

Result<Response> GetApiKey(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "API key"));
  SINYAL_ASSIGN_OR_RETURN(auto key, svc.GetApiKey(*ctx.principal, ApiKeyId(id)));
  return Response::Json(200, KeyJson(key));
}

Result<Response> RevokeApiKey(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "API key"));
  SINYAL_RETURN_IF_ERROR(svc.RevokeApiKey(*ctx.principal, ApiKeyId(id)));
  return Response::NoContent();
}

Result<Response> ListMembers(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto users, svc.ListMembers(*ctx.principal));
  return Response::Json(200, Items(users, UserJson));
}

Result<Response> AddMember(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(auto creds, ParseCredentials(body));
  SINYAL_ASSIGN_OR_RETURN(auto display, body.OptionalString("display_name", kName));
  SINYAL_ASSIGN_OR_RETURN(auto role_name,
                          body.OptionalString("role", {.min_len = 1, .max_len = 16}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  accounts::Role role = accounts::Role::kMember;
  if (role_name) {
    SINYAL_ASSIGN_OR_RETURN(role, ParseMemberRole(*role_name));
  }
  SINYAL_ASSIGN_OR_RETURN(auto user, svc.AddMember(*ctx.principal, creds.email, creds.password,
                                                   DefaultDisplayName(display, creds.email), role));
  return Response::Json(201, UserJson(user));
}

Result<Response> UpdateMemberRole(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "member"));
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(auto role_name, body.String("role", {.min_len = 1, .max_len = 16}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  SINYAL_ASSIGN_OR_RETURN(auto role, ParseMemberRole(role_name));
  SINYAL_ASSIGN_OR_RETURN(auto user, svc.UpdateMemberRole(*ctx.principal, UserId(id), role));
  return Response::Json(200, UserJson(user));
}

Result<Response> RemoveMember(AccountService& svc, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "member"));
  SINYAL_RETURN_IF_ERROR(svc.RemoveMember(*ctx.principal, UserId(id)));
  return Response::NoContent();
}

}  // namespace

void AddAccountRoutes(RouteTable& routes, AccountService& accounts) {
  auto bind = [svc = &accounts](Result<Response> (*handler)(AccountService&, Context&)) {
    return [svc, handler](Context& ctx) { return handler(*svc, ctx); };
  };
  // Sign-up and sign-in: no principal yet. Password hashing is slow: blocking.
  routes.Add({.method = "POST",
              .pattern = "/api/v1/auth/register",
              .blocking = true,
              .handler = bind(&Register)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/auth/login",
              .blocking = true,
              .handler = bind(&UserLogin)});
  routes.Add({.method = "POST", .pattern = "/api/v1/auth/refresh", .handler = bind(&Refresh)});
  routes.Add({.method = "POST", .pattern = "/api/v1/auth/logout", .handler = bind(&Logout)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/operator/login",
              .blocking = true,
              .handler = bind(&OperatorLogin)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/me",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&Me)});
  // The operator's feed keys (market data ingestion).
  routes.Add({.method = "POST",
              .pattern = "/api/v1/operator/feed-keys",
              .auth = AuthMode::kOperator,
              .handler = bind(&CreateFeedKey)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/feed-keys",
              .auth = AuthMode::kOperator,
              .handler = bind(&ListFeedKeys)});
  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/operator/feed-keys/:id",
              .auth = AuthMode::kOperator,
              .handler = bind(&RevokeFeedKey)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/me",
              .auth = AuthMode::kOperator,
              .required_scope = "operator",  // an operator's access token, not a feed key
              .handler = bind(&OperatorMe)});
  // A tenant's API keys and members.
  routes.Add({.method = "GET",
              .pattern = "/api/v1/api-keys",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = bind(&ListApiKeys)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/api-keys",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = bind(&CreateApiKey)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/api-keys/:id",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = bind(&GetApiKey)});
  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/api-keys/:id",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = bind(&RevokeApiKey)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/members",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&ListMembers)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/members",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = bind(&AddMember)});
  routes.Add({.method = "PATCH",
              .pattern = "/api/v1/members/:id",
              .auth = AuthMode::kUser,
              .handler = bind(&UpdateMemberRole)});
  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/members/:id",
              .auth = AuthMode::kUser,
              .handler = bind(&RemoveMember)});
}

}  // namespace sinyal::http
