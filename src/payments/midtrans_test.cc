// The Midtrans wire contract (payments/midtrans.h): signatures, amounts, bodies, statuses.
#include "payments/midtrans.h"

#include <gtest/gtest.h>

#include "core/testing/test_util.h"

namespace sinyal::payments {
namespace {

TEST(MidtransTest, SignatureIsSha512OfTheFourStrings) {
  // Expected values computed independently: printf '%s' '<order><code><gross><key>' | sha512sum
  EXPECT_EQ(
      SignatureKey("Postman-1578568851", "200", "150000.00", "VT-server-HJMpl9HLr_ntOKt5mRONdmKj"),
      "d08caebe3475d7f61f85bb1502abc40e8378326a9257b91f3a79f9175a71bd7b89a45c31df88c9b9e1f954a61043"
      "024b"
      "6b494a44886db5681560138543a2347f");
  const std::string sig =
      "c3e7d97c796aa1d319f71860ba2548664c6ad1f0fea2045fcfe5c6dbccf090c950a00423fb45e1330dc7e4f47ef7"
      "58145d4f9131cdedd8edf39cfd4692104b69";
  EXPECT_EQ(SignatureKey("sny-1-1-abcd", "200", "4299000.00", "SB-Mid-server-SIMULATED"), sig);
  EXPECT_TRUE(VerifySignature("sny-1-1-abcd", "200", "4299000.00", "SB-Mid-server-SIMULATED", sig));
  // Upper-case hex is the same signature; anything else is not.
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(
      VerifySignature("sny-1-1-abcd", "200", "4299000.00", "SB-Mid-server-SIMULATED", upper));
  EXPECT_FALSE(
      VerifySignature("sny-1-1-abcd", "200", "4299001.00", "SB-Mid-server-SIMULATED", sig));
  EXPECT_FALSE(VerifySignature("sny-1-1-abcd", "200", "4299000.00", "other-key", sig));
  EXPECT_FALSE(VerifySignature("sny-1-1-abcd", "200", "4299000.00", "SB-Mid-server-SIMULATED",
                               sig.substr(1)));
  EXPECT_FALSE(VerifySignature("sny-1-1-abcd", "200", "4299000.00", "SB-Mid-server-SIMULATED", ""));
}

TEST(MidtransTest, GrossAmountIsWholeRupiah) {
  EXPECT_EQ(ParseGrossAmount("10000.00").value(), 10000);
  EXPECT_EQ(ParseGrossAmount("10000").value(), 10000);
  EXPECT_EQ(ParseGrossAmount("10000.0").value(), 10000);
  for (const char* bad :
       {"", "-5.00", "1e5", "10000.50", "10000.", "12,000", "1000000000000000", ".00", "abc"}) {
    EXPECT_EQ(ParseGrossAmount(bad).error().field(), "gross_amount") << bad;
  }
}

TEST(MidtransTest, OrderIdsFollowMidtransRules) {
  EXPECT_TRUE(ValidOrderId("sny-12-3-00ff~a.b_c"));
  EXPECT_FALSE(ValidOrderId(""));
  EXPECT_FALSE(ValidOrderId(std::string(51, 'a')));
  EXPECT_FALSE(ValidOrderId("a#b"));
  EXPECT_FALSE(ValidOrderId("a/b"));
}

TEST(MidtransTest, SnapBodyHasTheContractFields) {
  MidtransConfig config;
  config.finish_url = "https://sinyal.example/billing/done";
  SnapRequest r;
  r.order_id = "sny-1-2-00aa";
  r.gross_amount = 299000;
  r.items.push_back({"pro-month", "Sinyal Pro (1 month)", 299000, 1});
  r.customer_first_name = "Ayu";
  r.customer_email = "ayu@example.com";
  r.expiry_minutes = 60;
  auto body = SnapBody(r, config);
  ASSERT_OK(body);
  EXPECT_EQ((*body)["transaction_details"]["order_id"], "sny-1-2-00aa");
  EXPECT_EQ((*body)["transaction_details"]["gross_amount"], 299000);
  EXPECT_EQ((*body)["item_details"][0]["price"], 299000);
  EXPECT_EQ((*body)["customer_details"]["email"], "ayu@example.com");
  EXPECT_EQ((*body)["callbacks"]["finish"], "https://sinyal.example/billing/done");
  EXPECT_EQ((*body)["expiry"]["unit"], "minute");
  EXPECT_EQ((*body)["expiry"]["duration"], 60);
  EXPECT_EQ((*body)["enabled_payments"],
            nlohmann::json({"credit_card", "bca_va", "bni_va", "bri_va", "echannel", "permata_va",
                            "gopay", "shopeepay", "other_qris"}));
  r.gross_amount = 299001;  // != sum of the items
  EXPECT_EQ(SnapBody(r, config).error().field(), "gross_amount");
}

TEST(MidtransTest, StatusesMapAsTheResearchNotesSay) {
  EXPECT_EQ(Classify("settlement", ""), GatewayOutcome::kSettled);
  EXPECT_EQ(Classify("capture", "accept"), GatewayOutcome::kSettled);
  EXPECT_EQ(Classify("capture", ""), GatewayOutcome::kSettled);
  EXPECT_EQ(Classify("capture", "challenge"), GatewayOutcome::kChallenge);
  EXPECT_EQ(Classify("capture", "deny"), GatewayOutcome::kDenied);
  EXPECT_EQ(Classify("pending", ""), GatewayOutcome::kPending);
  EXPECT_EQ(Classify("deny", ""), GatewayOutcome::kDenied);
  EXPECT_EQ(Classify("cancel", ""), GatewayOutcome::kFailed);
  EXPECT_EQ(Classify("expire", ""), GatewayOutcome::kFailed);
  EXPECT_EQ(Classify("failure", ""), GatewayOutcome::kFailed);
  EXPECT_EQ(Classify("refund", ""), GatewayOutcome::kRefunded);
  EXPECT_EQ(Classify("partial_refund", ""), GatewayOutcome::kRefunded);
  EXPECT_EQ(Classify("chargeback", ""), GatewayOutcome::kChargeback);
  EXPECT_EQ(Classify("partial_chargeback", ""), GatewayOutcome::kPartialChargeback);
  EXPECT_EQ(Classify("authorize", ""), GatewayOutcome::kIgnored);
  EXPECT_EQ(Classify("something_new", ""), GatewayOutcome::kIgnored);
}

TEST(MidtransTest, TransactionsParseLenientlyButNeedTheirFields) {
  auto j = nlohmann::json::parse(
      R"({"transaction_time":"2024-04-01 07:00:00","transaction_status":"settlement",
    "transaction_id":"t1","status_message":"ok","status_code":"200","signature_key":"ab","payment_type":"echannel",
    "order_id":"sny-1-1-aa","merchant_id":"M1","gross_amount":"299000.00","currency":"IDR","biller_code":"70012",
    "bill_key":"123","new_field_from_midtrans":{"x":1},
    "metadata":{"extra_info":{"gross_amount_info":{"original_amount":297000}}},
    "refunds":[{"refund_key":"rf-1","refund_amount":"1000.00"},{"bad":1}]})");
  auto t = Transaction::FromJson(j, true);
  ASSERT_OK(t);
  EXPECT_EQ(t->payment_type, "echannel");
  EXPECT_EQ(t->original_amount.value(), 297000);
  ASSERT_EQ(t->refunds.size(), 1u);
  EXPECT_EQ(t->refunds[0].amount, 1000);
  j.erase("signature_key");
  EXPECT_EQ(Transaction::FromJson(j, true).error().field(), "signature_key");
  EXPECT_OK(Transaction::FromJson(j, false));
  j["gross_amount"] = 299000;  // a number where Midtrans sends a string
  EXPECT_EQ(Transaction::FromJson(j, false).error().field(), "gross_amount");
  EXPECT_EQ(Transaction::FromJson(nlohmann::json::array(), false).error().field(), "body");
}

TEST(MidtransTest, TheClientRefusesBadConfigWithoutEchoingTheKey) {
  MidtransConfig c;
  EXPECT_EQ(MakeMidtransClient(c).error().field(), "midtrans.server_key");
  c.server_key = "SB-Mid-server-secret-value";
  c.snap_base_url = "ftp://x";
  c.core_base_url = std::string(kCoreSandboxUrl);
  auto r = MakeMidtransClient(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ToString().find("secret-value"), std::string::npos);
  // Unreachable gateway: Unavailable, and the message never holds the key.
  c.snap_base_url = "http://127.0.0.1:1/snap/v1";
  c.core_base_url = "http://127.0.0.1:1";
  c.timeout_ms = 500;
  auto client = MakeMidtransClient(c);
  ASSERT_OK(client);
  auto s = (*client)->GetStatus("sny-1-1-aa");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.error().ToString().find("secret-value"), std::string::npos);
}

}  // namespace
}  // namespace sinyal::payments
