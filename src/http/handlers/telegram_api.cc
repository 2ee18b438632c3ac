// Telegram routes (notify/telegram.h; docs/api.md "Telegram"). Handlers parse, call the bot, map.
//
//   POST   /api/v1/telegram/link               user: a one-time deep link {"kind":"private"|"group"}
//   GET    /api/v1/telegram/link               user: link status and the organisation's groups
//   DELETE /api/v1/telegram/link               user: unlink (the chat is told)
//   DELETE /api/v1/telegram/groups/:chat_id    owner/admin or the linker: unlink a group
//   GET    /api/v1/telegram/alerts             user: alerts of their chat and of the groups
//   POST   /api/v1/telegram/alerts             user: add {"symbol","timeframe","min_confidence",
//                                              "direction"?, "chat_id"? (a linked group)}
//   PATCH  /api/v1/telegram/alerts/:id         user: {"muted": true|false}
//   DELETE /api/v1/telegram/alerts/:id         user
//   POST   /api/v1/telegram/webhook            Telegram (webhook mode): the secret header is
//                                              checked in constant time before anything is read
#include <charconv>
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/json_body.h"
#include "notify/telegram.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

// Telegram chat ids are negative for groups: the route's :chat_id is any non-zero integer.
Result<int64_t> ChatIdParam(const Context& ctx) {
  auto it = ctx.request.params.find("chat_id");
  int64_t v = 0;
  if (it != ctx.request.params.end()) {
    const std::string& s = it->second;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && v != 0) return v;
  }
  return Status::NotFound("no linked group with this chat id", "chat_id");
}

Result<notify::LinkKind> KindOf(const Request& request) {
  if (request.body.empty()) return notify::LinkKind::kPrivate;
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(request));
  SINYAL_ASSIGN_OR_RETURN(std::optional<std::string> kind,
                          body.OptionalString("kind", {.min_len = 1, .max_len = 16}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  if (!kind || *kind == "private") return notify::LinkKind::kPrivate;
  if (*kind == "group") return notify::LinkKind::kGroup;
  return Status::InvalidArgument("must be \"private\" or \"group\"", "kind");
}

Result<notify::AlertSpec> ParseAlert(const Request& request) {
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(request));
  notify::AlertSpec spec;
  SINYAL_ASSIGN_OR_RETURN(spec.symbol, body.String("symbol", {.min_len = 1, .max_len = 32}));
  SINYAL_ASSIGN_OR_RETURN(spec.timeframe, body.String("timeframe", {.min_len = 1, .max_len = 8}));
  SINYAL_ASSIGN_OR_RETURN(spec.min_confidence, body.Number("min_confidence", 0.5, 0.99));
  SINYAL_ASSIGN_OR_RETURN(std::optional<std::string> direction,
                          body.OptionalString("direction", {.min_len = 1, .max_len = 16}));
  if (direction) spec.direction = *direction;
  SINYAL_ASSIGN_OR_RETURN(std::optional<int64_t> chat,
                          body.OptionalInt("chat_id", INT64_MIN / 2, -1));
  spec.group_chat_id = chat;
  SINYAL_RETURN_IF_ERROR(body.Finish());
  return spec;
}

}  // namespace

void AddTelegramRoutes(RouteTable& routes, notify::TelegramBot* bot) {
  // Without a bot (telegram.bot_token unset) the routes exist and answer 503, naming the setting.
  auto with = [bot](auto fn) {
    return [bot, fn](Context& ctx) -> Result<Response> {
      if (bot == nullptr) {
        return Status::Unavailable(
            "Telegram is not configured on this server (telegram.bot_token)");
      }
      return fn(bot, ctx);
    };
  };
  routes.Add({.method = "POST",
              .pattern = "/api/v1/telegram/link",
              .auth = AuthMode::kUser,
              .blocking = true,
              .max_body_bytes = 1024,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(notify::LinkKind kind, KindOf(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(notify::LinkToken token,
                                        b->CreateLinkToken(*ctx.principal, kind));
                return Response::Json(201, token.ToJson());
              })});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/telegram/link",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(notify::LinkInfo info, b->GetLink(*ctx.principal));
                return Response::Json(200, info.ToJson());
              })});
  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/telegram/link",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(b->Unlink(*ctx.principal));
                return Response::NoContent();
              })});
  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/telegram/groups/:chat_id",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t chat, ChatIdParam(ctx));
                SINYAL_RETURN_IF_ERROR(b->UnlinkGroup(*ctx.principal, chat));
                return Response::NoContent();
              })});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/telegram/alerts",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(std::vector<notify::AlertInfo> alerts,
                                        b->ListAlerts(*ctx.principal));
                json items = json::array();
                for (const auto& a : alerts) items.push_back(a.ToJson());
                return Response::Json(200, {{"alerts", items}});
              })});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/telegram/alerts",
              .auth = AuthMode::kUser,
              .blocking = true,
              .max_body_bytes = 4096,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(notify::AlertSpec spec, ParseAlert(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(notify::AlertInfo alert, b->AddAlert(*ctx.principal, spec));
                return Response::Json(201, alert.ToJson());
              })});
  routes.Add({.method = "PATCH",
              .pattern = "/api/v1/telegram/alerts/:id",
              .auth = AuthMode::kUser,
              .blocking = true,
              .max_body_bytes = 1024,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "alert"));
                SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
                SINYAL_ASSIGN_OR_RETURN(std::optional<bool> muted, body.OptionalBool("muted"));
                SINYAL_RETURN_IF_ERROR(body.Finish());
                if (!muted) return Status::InvalidArgument("is required", "muted");
                SINYAL_ASSIGN_OR_RETURN(notify::AlertInfo alert,
                                        b->MuteAlert(*ctx.principal, id, *muted));
                return Response::Json(200, alert.ToJson());
              })});
  routes.Add({.method = "DELETE",
              .pattern = "/api/v1/telegram/alerts/:id",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
                SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "alert"));
                SINYAL_RETURN_IF_ERROR(b->RemoveAlert(*ctx.principal, id));
                return Response::NoContent();
              })});
  // Telegram retries a webhook on any non-2xx: 401 for a forged call (nothing read), 400/422 for a
  // body that is not an update (Telegram would resend it forever: logged by the pipeline), 503 when
  // handling failed and a retry should come.
  routes.Add(
      {.method = "POST",
       .pattern = "/api/v1/telegram/webhook",
       .auth = AuthMode::kNone,
       .blocking = true,
       .max_body_bytes = 256 << 10,
       .handler = with([](notify::TelegramBot* b, Context& ctx) -> Result<Response> {
         const std::string_view secret = ctx.request.Header("x-telegram-bot-api-secret-token");
         SINYAL_RETURN_IF_ERROR(b->CheckWebhookSecret(secret));
         SINYAL_RETURN_IF_ERROR(JsonBody::Parse(ctx.request).status());  // 415 / 400 as elsewhere
         SINYAL_RETURN_IF_ERROR(b->HandleWebhook(secret, ctx.request.body));
         return Response::Json(200, {{"ok", true}});
       })});
}

}  // namespace sinyal::http
