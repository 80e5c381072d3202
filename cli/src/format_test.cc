#include "format.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <optional>
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

// ---- `minetrace status` ----

v1::StatusResponse NodeAt(uint64_t leaves, char root_byte, char genesis_byte = 'g') {
  v1::StatusResponse s;
  s.set_genesis_hash(std::string(32, genesis_byte));
  s.set_leaf_count(leaves);
  s.set_accumulator_root(std::string(32, root_byte));
  s.set_height(leaves + 10);
  s.set_role("validator");
  s.set_round(leaves + 11);
  return s;
}

NodeStatusReport Report(std::string name, std::optional<v1::StatusResponse> status) {
  NodeStatusReport r;
  r.address = "127.0.0.1:" + std::to_string(7000 + name.size());
  r.name = std::move(name);
  r.status = std::move(status);
  if (!r.status) r.error = "UNAVAILABLE: failed to connect";
  return r;
}

std::string RootHex(char root_byte) { return ToHex(AsBytes(std::string(32, root_byte))); }

TEST(NetworkStatus, NodesOnOneRootAgreeWhateverTheirHeight) {
  v1::StatusResponse later = NodeAt(42, '\xab');
  later.set_height(99);  // empty blocks since: no new leaf, same root
  const std::vector<NodeStatusReport> reports = {Report("node0", NodeAt(42, '\xab')),
                                                 Report("node1", later),
                                                 Report("observer0", NodeAt(42, '\xab'))};
  const AgreementVerdict v = CheckAgreement(reports);
  EXPECT_EQ(v.agreement, Agreement::kAgree);
  EXPECT_EQ(v.line, "all 3 nodes on root " + RootHex('\xab') + " at 42 leaves");
}

TEST(NetworkStatus, UnreachableNodesAreLeftOutOfTheAgreement) {
  const std::vector<NodeStatusReport> reports = {Report("node0", NodeAt(7, '\x01')),
                                                 Report("node1", std::nullopt),
                                                 Report("node2", NodeAt(7, '\x01'))};
  const AgreementVerdict v = CheckAgreement(reports);
  EXPECT_EQ(v.agreement, Agreement::kAgree);
  EXPECT_EQ(v.line, "2 reachable nodes on root " + RootHex('\x01') + " at 7 leaves");
  EXPECT_EQ(CheckAgreement({Report("node1", std::nullopt)}).agreement, Agreement::kNoneReachable);
}

TEST(NetworkStatus, TwoRootsAtOneLeafCountIsAFork) {
  const std::vector<NodeStatusReport> reports = {
      Report("node0", NodeAt(42, '\xab')), Report("node1", NodeAt(42, '\xab')),
      Report("node2", NodeAt(42, '\xcd')), Report("node3", NodeAt(40, '\x11'))};
  const AgreementVerdict v = CheckAgreement(reports);
  EXPECT_EQ(v.agreement, Agreement::kFork);
  EXPECT_EQ(v.line, "nodes disagree: at 42 leaves node0, node1 on root " +
                        RootHex('\xab').substr(0, 16) + ", node2 on root " +
                        RootHex('\xcd').substr(0, 16));
}

TEST(NetworkStatus, DifferentGenesisIsAFork) {
  const AgreementVerdict v = CheckAgreement(
      {Report("node0", NodeAt(0, '\x00', 'a')), Report("x", NodeAt(0, '\x00', 'b'))});
  EXPECT_EQ(v.agreement, Agreement::kFork);
  EXPECT_NE(v.line.find("different genesis"), std::string::npos) << v.line;
}

TEST(NetworkStatus, FewerLeavesWithoutConflictIsBehindNotAFork) {
  const AgreementVerdict v =
      CheckAgreement({Report("node0", NodeAt(42, '\xab')), Report("observer0", NodeAt(40, '\x11')),
                      Report("node1", NodeAt(42, '\xab'))});
  EXPECT_EQ(v.agreement, Agreement::kBehind);
  EXPECT_EQ(v.line, "nodes not in step (no conflicting root): node0, node1 at 42 leaves (root " +
                        RootHex('\xab').substr(0, 16) + "); observer0 at 40 leaves (root " +
                        RootHex('\x11').substr(0, 16) + ")");
}

TEST(NetworkStatus, NodeLineShowsRoleHeightRoundLeavesShortRootPeersMempool) {
  v1::StatusResponse s = NodeAt(42, '\xab');
  s.set_mempool_txs(3);
  s.add_peers()->set_connected(true);
  s.add_peers()->set_connected(true);
  s.add_peers()->set_connected(false);
  NodeStatusReport r = Report("node0", s);
  r.address = "127.0.0.1:7000";
  EXPECT_EQ(NodeStatusLine(r, 20),
            "node0 127.0.0.1:7000  validator  height 52  round 53  leaves 42  root " +
                RootHex('\xab').substr(0, 16) + "  peers 2/3  mempool 3");
  s.set_misbehaviour_reports(5);
  s.set_role("observer");
  r.status = s;
  const std::string observer = NodeStatusLine(r, 0);
  EXPECT_NE(observer.find("observer   height 52  round -"), std::string::npos) << observer;
  EXPECT_NE(observer.find("  misbehaviour 5"), std::string::npos) << observer;
}

TEST(NetworkStatus, UnreachableLineSaysWhyAndAddressOnlyNodesAreNamedOnce) {
  NodeStatusReport r = Report("x", std::nullopt);
  r.name = r.address;
  EXPECT_EQ(NodeStatusLine(r, 0), r.address + "  unreachable: UNAVAILABLE: failed to connect");
  r.unreachable = false;
  r.error = "INTERNAL: boom";
  EXPECT_EQ(NodeStatusLine(r, 0), r.address + "  error: INTERNAL: boom");
}

TEST(NetworkStatus, PrintsOneLinePerNodeThenTheVerdict) {
  const std::vector<NodeStatusReport> reports = {Report("node0", NodeAt(1, '\x01')),
                                                 Report("observer0", std::nullopt)};
  std::ostringstream out;
  PrintNetworkStatus(out, reports, CheckAgreement(reports));
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  const std::string verdict = "\n1 reachable node on root " + RootHex('\x01') + " at 1 leaf\n";
  ASSERT_GT(text.size(), verdict.size());
  EXPECT_EQ(text.substr(text.size() - verdict.size()), verdict) << text;
  // Labels are padded to one width, so the columns line up.
  EXPECT_EQ(text.find("node0 127.0.0.1:7005      validator"), 0u) << text;
}

TEST(NetworkStatus, JsonHasEveryNodeAndTheVerdict) {
  const std::vector<NodeStatusReport> reports = {Report("node0", NodeAt(4, '\x0f')),
                                                 Report("node1", std::nullopt)};
  auto json = NetworkStatusJson(reports, CheckAgreement(reports));
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_NE(json->find("\"name\":\"node0\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"reachable\":false,\"error\":\"UNAVAILABLE: failed to connect\""),
            std::string::npos)
      << *json;
  const std::string agreement =
      "\"agreement\":{\"verdict\":\"agree\",\"summary\":\"1 reachable node on root " +
      RootHex('\x0f') + " at 4 leaves\",\"leafCount\":\"4\",\"root\":\"" + RootHex('\x0f') + "\"}}";
  ASSERT_GT(json->size(), agreement.size());
  EXPECT_EQ(json->substr(json->size() - agreement.size()), agreement) << *json;
}

TEST(Format, StatusDetailShowsRoleRoundAndPeers) {
  v1::StatusResponse s = NodeAt(3, '\x01');
  v1::PeerStatus* p = s.add_peers();
  p->set_key(std::string(32, '\x22'));
  p->set_address("127.0.0.1:7101");
  p->set_validator(true);
  p->set_last_error("connection refused");
  std::ostringstream out;
  PrintStatus(out, s);
  const std::string text = out.str();
  EXPECT_NE(text.find("role               validator"), std::string::npos) << text;
  EXPECT_NE(text.find("round              14"), std::string::npos) << text;
  EXPECT_NE(text.find("peers              0/1 connected"), std::string::npos) << text;
  EXPECT_NE(text.find("127.0.0.1:7101  validator  down"), std::string::npos) << text;
  EXPECT_NE(text.find("last error: connection refused"), std::string::npos) << text;
}

}  // namespace
}  // namespace minetrace::cli
