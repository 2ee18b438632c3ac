// Fuzzes the Midtrans HTTP notification as the webhook reads it (nlohmann::json::parse as in
// PaymentService::HandleNotification, then payments::Transaction::FromJson with the signature
// required), the signature check, ParseGrossAmount and Classify.
//
// Input: the notification body. Properties: never crashes; an error names a field; a parsed
// notification has every required field, a valid order id, and is also accepted without the
// signature requirement; a gross amount that parses prints back to its whole-rupiah digits.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "payments/midtrans.h"

using namespace sinyal;
using namespace sinyal::payments;

namespace {

void CheckGrossAmount(std::string_view text) {
  auto amount = ParseGrossAmount(text);
  if (!amount.ok()) {
    FUZZ_CHECK(amount.error().field() == "gross_amount", "ParseGrossAmount names the field");
    return;
  }
  FUZZ_CHECK(*amount >= 0, "amounts are non-negative");
  std::string_view whole = text.substr(0, text.find('.'));
  while (whole.size() > 1 && whole[0] == '0') whole.remove_prefix(1);
  FUZZ_CHECK(std::to_string(*amount) == whole, "the amount prints back to its digits");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  CheckGrossAmount(body);

  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto note = Transaction::FromJson(j, /*need_signature=*/true);
  if (!note.ok()) {
    FUZZ_CHECK(note.error().code() == StatusCode::kInvalidArgument, "errors are InvalidArgument");
    FUZZ_CHECK(!note.error().field().empty(), "an error names a field");
    return 0;
  }
  FUZZ_CHECK(!note->order_id.empty(), "a notification has an order id");
  FUZZ_CHECK(Transaction::FromJson(j, /*need_signature=*/false).ok(),
             "a signed notification parses unsigned");
  (void)note->SignatureValid("SB-Mid-server-fuzz-key");
  CheckGrossAmount(note->gross_amount);
  const GatewayOutcome outcome = Classify(note->transaction_status, note->fraud_status);
  FUZZ_CHECK(!GatewayOutcomeName(outcome).empty(), "every outcome has a name");
  for (const GatewayRefund& r : note->refunds)
    FUZZ_CHECK(!r.key.empty() && r.amount > 0, "refunds kept are real");
  return 0;
}
