// Fuzzes the prediction request parser (http::ParsePredictItem over http::JsonBody::Parse), the
// body of POST /api/v1/business/predict, /api/v1/user/predict and each batch item.
//
// Input: the request body. Properties: never crashes; every error after the body parsed names a
// field under the item's prefix; a success has a normalised symbol, a timeframe whose canonical
// name parses back to it, a threshold in [0, 1] and a horizon in 1..48 when given.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/handlers/predict_request.h"
#include "http/http.h"
#include "http/json_body.h"
#include "market/instrument.h"
#include "market/timeframe.h"

using namespace sinyal;
using namespace sinyal::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Request req;
  req.method = "POST";
  req.path = "/api/v1/business/predict";
  req.headers = {{"content-type", "application/json"}};
  req.body.assign(reinterpret_cast<const char*>(data), size);

  auto body = JsonBody::Parse(req);
  if (!body.ok()) return 0;  // json_body_fuzz covers the body itself
  const std::string prefix = "items[3].";
  auto item = ParsePredictItem(*body, prefix);
  if (!item.ok()) {
    FUZZ_CHECK(item.error().code() == StatusCode::kInvalidArgument, "errors are InvalidArgument");
    FUZZ_CHECK(
        item.error().field().size() > prefix.size() && item.error().field().rfind(prefix, 0) == 0,
        "an error names a field under the item's prefix");
    return 0;
  }
  FUZZ_CHECK(!item->symbol.empty() && item->symbol.size() <= 32, "symbol length");
  auto again = market::NormalizeSymbol(item->symbol);
  FUZZ_CHECK(again.ok() && *again == item->symbol, "the symbol is normalised");
  auto tf = market::ParseTimeframe(item->timeframe);
  FUZZ_CHECK(tf.ok() && *tf == item->tf, "the canonical timeframe parses back");
  FUZZ_CHECK(item->confidence_threshold >= 0.0 && item->confidence_threshold <= 1.0,
             "threshold range");
  FUZZ_CHECK(!item->horizon || (*item->horizon >= 1 && *item->horizon <= 48), "horizon range");
  FUZZ_CHECK(item->include.size() <= 8, "at most 8 includes");
  return 0;
}
