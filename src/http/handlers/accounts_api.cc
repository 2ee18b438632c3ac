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

void AddAccountRoutes(RouteTable& routes, AccountService& accounts) {
  AccountService* svc = &accounts;

  routes.Add({.method = "POST",
              .pattern = "/api/v1/auth/register",
              .blocking = true,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                accounts::RegisterRequest req;
                SINYAL_ASSIGN_OR_RETURN(req.tenant_name, body.String("tenant_name", kName));
                SINYAL_ASSIGN_OR_RETURN(req.email, body.String("email", kEmail));
                SINYAL_ASSIGN_OR_RETURN(req.password, body.String("password", kPassword));
                SINYAL_ASSIGN_OR_RETURN(auto display, body.OptionalString("display_name", kName));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                req.display_name = display.value_or(req.email.substr(0, req.email.find('@')));
                SINYAL_ASSIGN_OR_RETURN(auto created, svc->Register(req));
                json out = TokensJson(created.second);
                out["user"] = UserJson(created.first);
                return Response::Json(201, out);
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/auth/login",
              .blocking = true,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto email, body.String("email", kEmail));
                SINYAL_ASSIGN_OR_RETURN(auto password, body.String("password", kPassword));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                SINYAL_ASSIGN_OR_RETURN(auto tokens, svc->Login(email, password));
                return Response::Json(200, TokensJson(tokens));
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/auth/refresh",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto token, body.String("refresh_token", kToken));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                SINYAL_ASSIGN_OR_RETURN(auto tokens, svc->Refresh(token));
                return Response::Json(200, TokensJson(tokens));
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/auth/logout",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto token, body.String("refresh_token", kToken));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                SINYAL_RETURN_IF_ERROR(svc->Logout(token));
                return Response::NoContent();
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/operator/login",
              .blocking = true,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto email, body.String("email", kEmail));
                SINYAL_ASSIGN_OR_RETURN(auto password, body.String("password", kPassword));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                SINYAL_ASSIGN_OR_RETURN(auto tokens, svc->LoginOperator(email, password));
                return Response::Json(200, TokensJson(tokens));
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/me",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto me, svc->Me(*ctx.principal));
                json out = UserJson(me);
                out["auth"] = ctx.principal->api_key ? "api_key" : "access_token";
                if (ctx.principal->api_key) {
                  out["api_key"] = {{"id", ctx.principal->api_key->value()},
                                    {"scopes", ctx.principal->scopes}};
                }
                return Response::Json(200, out);
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/operator/feed-keys",
              .auth = AuthMode::kOperator,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto name, body.String("name", kName));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                SINYAL_ASSIGN_OR_RETURN(auto created, svc->CreateOperatorKey(*ctx.principal, name));
                json out = KeyJson(created.info);
                out["key"] = created.secret;
                return Response::Json(201, out);
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/feed-keys",
              .auth = AuthMode::kOperator,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto keys, svc->ListOperatorKeys(*ctx.principal));
                json items = json::array();
                for (const auto& k : keys) items.push_back(KeyJson(k));
                return Response::Json(200, {{"items", items}});
              }});

  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/operator/feed-keys/:id",
              .auth = AuthMode::kOperator,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "feed key"));
                SINYAL_RETURN_IF_ERROR(svc->RevokeOperatorKey(*ctx.principal, ApiKeyId(id)));
                return Response::NoContent();
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/me",
              .auth = AuthMode::kOperator,
              .required_scope = "operator",  // an operator's access token, not a feed key
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto me, svc->Me(*ctx.principal));
                return Response::Json(200, UserJson(me));
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/api-keys",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto keys, svc->ListApiKeys(*ctx.principal));
                json items = json::array();
                for (const auto& k : keys) items.push_back(KeyJson(k));
                return Response::Json(200, {{"items", items}});
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/api-keys",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto name, body.String("name", kName));
                SINYAL_ASSIGN_OR_RETURN(
                    auto scopes,
                    body.OptionalStringList("scopes", 8, {.min_len = 1, .max_len = 32}));
                SINYAL_ASSIGN_OR_RETURN(
                    auto expires, body.OptionalString("expires_at", {.min_len = 1, .max_len = 64}));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                std::optional<UnixNanos> expires_at;
                if (expires) {
                  auto t = ParseIso8601(*expires);
                  if (!t.ok()) return t.error().WithField("expires_at");
                  expires_at = *t;
                }
                SINYAL_ASSIGN_OR_RETURN(
                    auto created,
                    svc->CreateApiKey(*ctx.principal, name,
                                      scopes.value_or(std::vector<std::string>{}), expires_at));
                json out = KeyJson(created.info);
                out["key"] = created.secret;
                return Response::Json(201, out);
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/api-keys/:id",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "API key"));
                SINYAL_ASSIGN_OR_RETURN(auto key, svc->GetApiKey(*ctx.principal, ApiKeyId(id)));
                return Response::Json(200, KeyJson(key));
              }});

  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/api-keys/:id",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "API key"));
                SINYAL_RETURN_IF_ERROR(svc->RevokeApiKey(*ctx.principal, ApiKeyId(id)));
                return Response::NoContent();
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/members",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto users, svc->ListMembers(*ctx.principal));
                json items = json::array();
                for (const auto& u : users) items.push_back(UserJson(u));
                return Response::Json(200, {{"items", items}});
              }});

  routes.Add({.method = "POST",
              .pattern = "/api/v1/members",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto email, body.String("email", kEmail));
                SINYAL_ASSIGN_OR_RETURN(auto password, body.String("password", kPassword));
                SINYAL_ASSIGN_OR_RETURN(auto display, body.OptionalString("display_name", kName));
                SINYAL_ASSIGN_OR_RETURN(auto role_name,
                                        body.OptionalString("role", {.min_len = 1, .max_len = 16}));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                accounts::Role role = accounts::Role::kMember;
                if (role_name) {
                  SINYAL_ASSIGN_OR_RETURN(role, accounts::ParseRole(*role_name));
                  if (role == accounts::Role::kOperator)
                    return Status::InvalidArgument("must be owner, admin or member", "role");
                }
                SINYAL_ASSIGN_OR_RETURN(
                    auto user,
                    svc->AddMember(*ctx.principal, email, password,
                                   display.value_or(email.substr(0, email.find('@'))), role));
                return Response::Json(201, UserJson(user));
              }});

  routes.Add({.method = "PATCH",
              .pattern = "/api/v1/members/:id",
              .auth = AuthMode::kUser,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "member"));
                SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(auto role_name,
                                        body.String("role", {.min_len = 1, .max_len = 16}));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                SINYAL_ASSIGN_OR_RETURN(auto role, accounts::ParseRole(role_name));
                if (role == accounts::Role::kOperator)
                  return Status::InvalidArgument("must be owner, admin or member", "role");
                SINYAL_ASSIGN_OR_RETURN(auto user,
                                        svc->UpdateMemberRole(*ctx.principal, UserId(id), role));
                return Response::Json(200, UserJson(user));
              }});

  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/members/:id",
              .auth = AuthMode::kUser,
              .handler = [svc](Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "member"));
                SINYAL_RETURN_IF_ERROR(svc->RemoveMember(*ctx.principal, UserId(id)));
                return Response::NoContent();
              }});
}

}  // namespace sinyal::http
