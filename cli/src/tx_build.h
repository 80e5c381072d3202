// Building the body of a minetrace transaction from the values given to `minetrace tx
// <action>`. TxArgs holds the command-line values as typed (strings for anything that needs
// exact parsing); BuildTxAction checks and converts them into a TxBody carrying only the
// action, so that it can be tested without keys, clocks or a node. The caller sets chain id,
// nonce and device time, then signs with ledger::proof::SignTx.
// Thread-safety: free functions over values (key arguments naming files are read).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::cli {

enum class TxAction {
  kRegisterMember,
  kSuspendMember,
  kReinstateMember,
  kRegisterSite,
  kAllocateTags,
  kRecordLot,
  kDispatch,
  kReceive,
  kCancelDispatch,
  kRecordInspection,
  kSetSiteStatus,
  kReportTags,
  kWithdrawTags,
  kRestoreTags,
  kProcess,
  kFormShipment,
  kReviewShipment,
  kDispatchShipment,
  kReceiveShipment,
  kCancelShipment,
  kReportIncident,
  kUpdateIncident,
  kSetAuditFlag,
};

struct TxActionInfo {
  TxAction action;
  std::string_view command;      // the subcommand name, e.g. "record-lot"
  std::string_view description;  // one line for --help
};

// Every action, in the order of TxBody's oneof.
std::span<const TxActionInfo> AllTxActions();

// Values of the action flags as given. Empty strings and vectors mean "not given".
struct TxArgs {
  std::string member;  // KEY
  std::string name;
  std::vector<std::string> roles;
  std::string country;
  std::string reason;
  std::string site_id;
  std::string latitude;   // decimal degrees
  std::string longitude;  // decimal degrees
  std::vector<std::string> minerals;
  std::string site_status;
  uint64_t estimate_kg_per_month = 0;
  std::string agent;  // KEY
  std::string prefix;
  uint64_t first = 0;
  uint32_t count = 0;
  std::string tag;
  std::string mineral;
  std::string weight_kg;
  std::string grade_percent;
  std::string producer;           // KEY
  std::vector<std::string> lots;  // lot ids, or LOT_ID:WEIGHT_KG for receive
  std::string to;                 // KEY
  std::string note;
  std::string tag_kind;           // allocate-tags: mine (default) or processor
  // record-inspection
  std::string date;               // also review-shipment's certificate date
  std::string result;
  std::string inspector;
  std::string report_hash;        // 64 hex
  std::string report_file;        // or the report itself, hashed here
  std::string summary;
  // report-tags
  std::vector<std::string> tags;
  std::string tag_status;
  // process
  std::string processing_kind;
  std::vector<std::string> inputs;   // lot ids
  std::vector<std::string> outputs;  // TAG:KG:GRADE_PERCENT
  // shipments
  std::string shipment_id;
  std::string destination;
  bool issue = false;
  bool refuse = false;
  std::string certificate;
  std::string smelter;            // KEY
  // incidents
  std::string subject;            // site, lot, member, tag
  std::string subject_id;
  std::string category;
  uint32_t level = 0;             // 0 = not given
  std::string description;
  std::string occurred_at;
  std::string source;
  std::string flag_id;
  std::string incident_id;
  std::string incident_status;
  std::string outcome;
  // set-audit-flag
  std::string audit_flag;
};

// Returns a TxBody with only the action set. kInvalidArgument (naming the flag) for a value
// that does not parse or a required value that is missing; errors from reading key files
// keep their code.
Result<v1::TxBody> BuildTxAction(TxAction action, const TxArgs& args);

}  // namespace minetrace::cli
