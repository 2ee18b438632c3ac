#include "http/handlers/metered.h"

#include <sodium.h>

#include <future>
#include <utility>

namespace sinyal::http {

billing::MeteredCall& Metered(Context& ctx) { return *ctx.metered; }

std::string RequestHash(const Request& req) {
  unsigned char out[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof out);
  auto feed = [&st](std::string_view s) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
    const unsigned char sep = 0;
    crypto_generichash_update(&st, &sep, 1);
  };
  feed(req.method);
  feed(req.path);
  feed(req.body);
  for (const auto& [k, v] : req.query) {  // GET routes: the query is the request (sorted map)
    feed(k);
    feed(v);
  }
  crypto_generichash_final(&st, out, sizeof out);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 0xF];
  }
  return hex;
}

Result<Charge> Reserve(Context& ctx, std::string_view endpoint, int64_t units) {
  ScopedStage quota(ctx, "quota");
  std::string key(ctx.request.Header("idempotency-key"));
  std::string hash = key.empty() ? std::string() : RequestHash(ctx.request);
  SINYAL_ASSIGN_OR_RETURN(
      billing::ReserveOutcome out,
      Metered(ctx).Reserve(std::string(endpoint), units, std::move(key), std::move(hash)));
  Charge charge;
  if (out.replay) {
    Response r = Response::Text(out.replay_status, std::move(*out.replay), "application/json");
    r.headers.emplace_back("Idempotent-Replayed", "true");
    charge.replay = std::move(r);
  } else {
    charge.reservation = std::move(out.reservation);
  }
  return charge;
}

namespace {

void CommitAsync(billing::Meter& meter, std::unique_ptr<billing::Reservation> r,
                 nlohmann::json body, std::function<void(Result<std::string>)> cb) {
  meter.CommitAsync(std::move(r), std::move(body), std::move(cb));
}
void CommitAsync(billing::Meter& meter, std::unique_ptr<billing::Reservation> r,
                 billing::Meter::PreparedBody body, std::function<void(Result<std::string>)> cb) {
  meter.CommitPreparedAsync(std::move(r), std::move(body), std::move(cb));
}

// `Body` is nlohmann::json or billing::Meter::PreparedBody.
template <typename Body>
Result<Response> Commit(Context& ctx, std::unique_ptr<billing::Reservation> reservation,
                        Body body) {
  billing::Meter& meter = Metered(ctx).meter();
  std::shared_ptr<Completion> done = ctx.Defer("metering");
  if (done == nullptr) {  // outside a pipeline that can defer: commit and wait
    ScopedStage metering(ctx, "metering");
    std::promise<Result<std::string>> promise;
    std::future<Result<std::string>> future = promise.get_future();
    CommitAsync(meter, std::move(reservation), std::move(body),
                [&promise](Result<std::string> r) { promise.set_value(std::move(r)); });
    SINYAL_ASSIGN_OR_RETURN(std::string final_body, future.get());
    return Response::Text(200, std::move(final_body), "application/json");
  }
  // The meter's callback runs on its writer thread and only builds the Response; the pipeline
  // finishes it on an I/O thread.
  CommitAsync(
      meter, std::move(reservation), std::move(body), [done](Result<std::string> final_body) {
        if (!final_body.ok()) {
          done->Complete(final_body.error());
        } else {
          done->Complete(Response::Text(200, std::move(final_body).value(), "application/json"));
        }
      });
  return Response::Deferred();
}

}  // namespace

Result<Response> CommitDeferred(Context& ctx, std::unique_ptr<billing::Reservation> reservation,
                                nlohmann::json body) {
  return Commit(ctx, std::move(reservation), std::move(body));
}

Result<Response> CommitDeferred(Context& ctx, std::unique_ptr<billing::Reservation> reservation,
                                billing::Meter::PreparedBody body) {
  return Commit(ctx, std::move(reservation), std::move(body));
}

}  // namespace sinyal::http
