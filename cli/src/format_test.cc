#include "format.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <limits>
#include <sstream>

#include "minetrace/base/bytes.h"

namespace minetrace::cli {
namespace {

TEST(Format, KilogramsHaveThreeDecimals) {
  EXPECT_EQ(FormatKg(25300), "25.300");
  EXPECT_EQ(FormatKg(1), "0.001");
  EXPECT_EQ(FormatKg(0), "0.000");
  EXPECT_EQ(FormatKg(1234567), "1234.567");
}

TEST(Format, PercentHasTwoDecimals) {
  EXPECT_EQ(FormatPercent(4550), "45.50");
  EXPECT_EQ(FormatPercent(1), "0.01");
  EXPECT_EQ(FormatPercent(10000), "100.00");
}

TEST(Format, MicrodegreesKeepSignAndSixDecimals) {
  EXPECT_EQ(FormatMicrodegrees(-1500000), "-1.500000");
  EXPECT_EQ(FormatMicrodegrees(28123456), "28.123456");
  EXPECT_EQ(FormatMicrodegrees(-1), "-0.000001");
  EXPECT_EQ(FormatMicrodegrees(std::numeric_limits<int64_t>::min()), "-9223372036854.775808");
}

TEST(Format, TimesAreUtcIso8601WithMilliseconds) {
  EXPECT_EQ(FormatTimeMs(0), "-");
  EXPECT_EQ(FormatTimeMs(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatTimeMs(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Format, TagIdsArePrefixAndSevenDigits) {
  EXPECT_EQ(TagId("T", 12), "T0000012");
  EXPECT_EQ(TagId("CD-", 12345678), "CD-12345678");
}

TEST(Format, JsonStringEscapes) {
  EXPECT_EQ(JsonString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(Format, SummaryOfADispatchNamesLotsAndFullReceiverKey) {
  v1::TxBody body;
  body.mutable_dispatch_lots()->add_lot_ids("T0000012");
  body.mutable_dispatch_lots()->add_lot_ids("T0000013");
  body.mutable_dispatch_lots()->set_receiver_key(std::string(32, '\xab'));
  std::string key_hex;
  for (int i = 0; i < 32; ++i) key_hex += "ab";
  EXPECT_EQ(SummarizeTxBody(body), "dispatch T0000012, T0000013 to " + key_hex);
}

TEST(Format, SummaryOfARecordedLotUsesKgAndPercent) {
  v1::TxBody body;
  auto* lot = body.mutable_record_mine_lot();
  lot->set_tag_id("T0000012");
  lot->set_site_id("CD-SK-0042");
  lot->set_mineral(v1::MINERAL_COLTAN);
  lot->set_weight_grams(25300);
  lot->set_grade_basis_points(3050);
  const std::string s = SummarizeTxBody(body);
  EXPECT_NE(s.find("record-lot T0000012 site CD-SK-0042 coltan 25.300 kg 30.50 %"),
            std::string::npos)
      << s;
}

TEST(Format, LotDetailShowsFullHexAndUnits) {
  v1::Lot lot;
  lot.set_lot_id("T0000012");
  lot.set_weight_grams(25300);
  lot.set_grade_basis_points(4550);
  lot.set_status(v1::LOT_STATUS_HELD);
  lot.set_holder_key(std::string(32, '\x01'));
  std::ostringstream out;
  PrintLot(out, lot);
  const std::string text = out.str();
  EXPECT_NE(text.find("25.300 kg"), std::string::npos) << text;
  EXPECT_NE(text.find("45.50 %"), std::string::npos) << text;
  EXPECT_NE(text.find(ToHex(AsBytes(std::string(32, '\x01')))), std::string::npos) << text;
  EXPECT_NE(text.find("held"), std::string::npos) << text;
}

TEST(Format, JsonHasEveryFieldAndParsesBack) {
  v1::Lot lot;
  lot.set_lot_id("T0000012");
  auto json = ToJson(lot);
  ASSERT_TRUE(json);
  EXPECT_NE(json->find("\"weightGrams\""), std::string::npos) << *json;  // zero, still shown
  v1::Lot back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &back).ok());
  EXPECT_EQ(back.lot_id(), "T0000012");
}

TEST(Format, TxJsonDecodesTheBodyAndPrintsIdsInHex) {
  v1::TxBody body;
  body.set_chain_id("minetrace-local");
  body.mutable_cancel_dispatch()->add_lot_ids("T0000012");
  v1::TxWithReceipt tx;
  tx.mutable_tx()->set_body(body.SerializeAsString());
  tx.mutable_tx()->set_signer(std::string(32, '\x02'));
  tx.mutable_receipt()->set_tx_id(std::string(32, '\x03'));
  tx.mutable_receipt()->set_status(v1::TX_STATUS_OK);
  auto json = TxWithReceiptJson(tx);
  ASSERT_TRUE(json) << json.error().message;
  const std::string id_hex = ToHex(AsBytes(std::string(32, '\x03')));
  EXPECT_NE(json->find("\"txId\":\"" + id_hex + "\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"chainId\":\"minetrace-local\""), std::string::npos) << *json;
  EXPECT_NE(json->find("TX_STATUS_OK"), std::string::npos) << *json;
}

TEST(Format, LedgerInfoRefusesBytesThatDoNotParse) {
  v1::SignedLedgerInfo info;
  info.set_ledger_info("\xff\xff\xff");
  std::ostringstream out;
  EXPECT_FALSE(PrintLedgerInfo(out, info));
  EXPECT_FALSE(LedgerInfoJson(info));
}

}  // namespace
}  // namespace minetrace::cli
