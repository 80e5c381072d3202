// Output of `minetrace`: human-readable text (weights in kg with 3 decimals, grades in percent,
// times in UTC ISO 8601, keys and hashes as full hex so that a script or a person can paste
// them back) and JSON (the protobuf JSON mapping, so bytes fields are base64 there; where a
// message carries serialized messages, such as a tx body, the JSON shows them decoded, with
// ids and keys in hex).
// Thread-safety: free functions; they write only to the stream they are given.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"
#include "minetrace/v1/node.pb.h"

namespace minetrace::cli {

std::string FormatKg(uint64_t grams);              // 25300 -> "25.300"
std::string FormatPercent(uint32_t basis_points);  // 4550 -> "45.50"
std::string FormatMicrodegrees(int64_t microdeg);  // -1500000 -> "-1.500000"
std::string FormatTimeMs(int64_t unix_ms);         // "2025-11-27T02:48:00.123Z"; 0 -> "-"
std::string HexOrDash(const std::string& bytes);   // full hex; "-" when empty
// The id of tag number n of a series: prefix and n zero-padded to 7 digits.
std::string TagId(const std::string& prefix, uint64_t number);

// A JSON string literal: quoted, with quotes, backslashes and control characters escaped.
std::string JsonString(std::string_view s);

// "anomaly <kind> (lot L, tag T, site S, shipment H, member <hex>): <detail>", naming only
// the fields the anomaly has.
std::string AnomalyLine(const v1::Anomaly& anomaly);

// One line naming the action and its values, e.g. "dispatch T0000012 to <hex>".
std::string SummarizeTxBody(const v1::TxBody& body);

void PrintStatus(std::ostream& out, const v1::StatusResponse& status);

// ---- `minetrace status`: one line per node and whether the nodes agree ----

// One node's answer: its name (the folder under --net, else its address), its address, and
// its Status, or why it could not be asked.
struct NodeStatusReport {
  std::string name;
  std::string address;
  std::optional<v1::StatusResponse> status;
  std::string error;        // when !status: "UNAVAILABLE: failed to connect ..."
  bool unreachable = true;  // when !status: false if the node answered with an error
};

// What the reachable nodes say together. Two nodes agree when they have the same genesis and
// the same accumulator root at the same leaf count (heights may differ: empty blocks add no
// leaf). kFork is the serious one: two roots for one leaf count, or two genesis hashes.
enum class Agreement {
  kAgree,          // every reachable node on one root at one leaf count
  kBehind,         // no conflict, but some nodes are at fewer leaves than others
  kFork,           // conflicting roots at the same leaf count, or different genesis
  kNoneReachable,  // no node answered
};

struct AgreementVerdict {
  Agreement agreement = Agreement::kNoneReachable;
  std::string line;  // e.g. "all 5 nodes on root <hex> at 42 leaves"
};

AgreementVerdict CheckAgreement(const std::vector<NodeStatusReport>& reports);
// "node0 127.0.0.1:7000  validator  height 12  round 13  leaves 42  root ab12cd34ef56a7b8  peers
// 4/4  mempool 0" (label padded to label_width); an unreachable node: "<label>  unreachable:
// <error>"; one that answered with an error: "<label>  error: <error>".
std::string NodeStatusLine(const NodeStatusReport& report, size_t label_width);
// Every node's line, then the verdict's line.
void PrintNetworkStatus(std::ostream& out, const std::vector<NodeStatusReport>& reports,
                        const AgreementVerdict& verdict);
// {"nodes":[{"name","address","reachable","status":{StatusResponse JSON} | "error"}],
//  "agreement":{"verdict":"agree|behind|fork|none_reachable","summary","leafCount","root"}}
// with root in hex and leafCount a decimal string like protobuf's uint64 (empty and "0" unless
// the nodes agree).
Result<std::string> NetworkStatusJson(const std::vector<NodeStatusReport>& reports,
                                      const AgreementVerdict& verdict);
void PrintLot(std::ostream& out, const v1::Lot& lot);
void PrintLotLine(std::ostream& out, const v1::Lot& lot);  // for lists
void PrintSite(std::ostream& out, const v1::MineSite& site);
void PrintSiteLine(std::ostream& out, const v1::MineSite& site);
void PrintMember(std::ostream& out, const v1::Member& member);
void PrintTag(std::ostream& out, const v1::Tag& tag);
void PrintReceipt(std::ostream& out, const v1::Receipt& receipt);
void PrintTxWithReceipt(std::ostream& out, const v1::TxWithReceipt& tx);
void PrintHistory(std::ostream& out, const v1::LotHistory& history);
// Refuses (kDataLoss) ledger info bytes that do not parse.
Result<void> PrintLedgerInfo(std::ostream& out, const v1::SignedLedgerInfo& signed_info);

// Compact protobuf JSON with every field present (zero values too), so that scripts see the
// same keys every time. kInternal if the message cannot be printed (it always can).
Result<std::string> ToJson(const google::protobuf::Message& message);
// A transaction with its decoded body and receipt:
// {"txId":hex,"signer":hex,"signature":hex,"receiptHash":hex,"body":{...},"receipt":{...}}.
Result<std::string> TxWithReceiptJson(const v1::TxWithReceipt& tx);
// {"lot":{...},"events":[TxWithReceiptJson...]}.
Result<std::string> HistoryJson(const v1::LotHistory& history);
// {"ledgerInfo":{decoded LedgerInfo},"signatures":[{"validatorKey":hex,"signature":hex}]}.
Result<std::string> LedgerInfoJson(const v1::SignedLedgerInfo& signed_info);

}  // namespace minetrace::cli
