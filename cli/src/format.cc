#include "format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <functional>
#include <sstream>

#include "minetrace/base/bytes.h"
#include "minetrace/ledger/proof/tx.h"
#include "parse.h"

namespace minetrace::cli {
namespace {

std::string Hex(const std::string& bytes) { return ToHex(AsBytes(bytes)); }

template <class List, class Fn>
std::string Join(const List& items, std::string_view sep, Fn&& fn) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += fn(item);
  }
  return out;
}

std::string JoinIds(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return Join(ids, ", ", [](const std::string& s) { return s; });
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

std::string RoleList(const google::protobuf::RepeatedField<int>& roles) {
  return Join(roles, ",", [](int r) { return std::string(RoleName(static_cast<v1::Role>(r))); });
}

std::string MineralList(const google::protobuf::RepeatedField<int>& minerals) {
  return Join(minerals, ",",
              [](int m) { return std::string(MineralName(static_cast<v1::Mineral>(m))); });
}

// Field rows for the detail views: a label column wide enough for "dispatched weight".
void Row(std::ostream& out, std::string_view label, const std::string& value) {
  out << label;
  for (size_t i = label.size(); i < 19; ++i) out << ' ';
  out << value << '\n';
}

void PrintAnomalies(std::ostream& out, const v1::Receipt& receipt, std::string_view indent) {
  for (const v1::Anomaly& a : receipt.anomalies()) out << indent << AnomalyLine(a) << '\n';
}

std::string ReceiptOutcome(const v1::Receipt& r) {
  if (r.status() == v1::TX_STATUS_OK) return "OK";
  std::string s = std::string(TxStatusName(r.status()));
  if (s == "?") s = "UNKNOWN";
  if (!r.error_code().empty()) s += " [" + r.error_code() + "]";
  if (!r.reason().empty()) s += ": " + r.reason();
  return s;
}

std::string Leaves(uint64_t count) {
  return std::to_string(count) + (count == 1 ? " leaf" : " leaves");
}

int ConnectedPeers(const v1::StatusResponse& s) {
  int n = 0;
  for (const v1::PeerStatus& p : s.peers()) n += p.connected() ? 1 : 0;
  return n;
}

// The receipt names the tx id; compute it for a tx without one.
std::string TxIdHex(const v1::TxWithReceipt& tx) {
  if (!tx.receipt().tx_id().empty()) return Hex(tx.receipt().tx_id());
  return ToHex(ledger::proof::TxId(tx.tx()));
}

}  // namespace

std::string FormatKg(uint64_t grams) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64, grams / 1000, grams % 1000);
  return buf;
}

std::string FormatPercent(uint32_t basis_points) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%u.%02u", basis_points / 100, basis_points % 100);
  return buf;
}

std::string FormatMicrodegrees(int64_t microdeg) {
  // Work on the magnitude as unsigned so that INT64_MIN cannot overflow.
  const bool negative = microdeg < 0;
  const uint64_t magnitude =
      negative ? static_cast<uint64_t>(-(microdeg + 1)) + 1 : static_cast<uint64_t>(microdeg);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%06" PRIu64, negative ? "-" : "",
                magnitude / 1000000, magnitude % 1000000);
  return buf;
}

std::string FormatTimeMs(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_ms) + " ms";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string HexOrDash(const std::string& bytes) { return bytes.empty() ? "-" : Hex(bytes); }

std::string AnomalyLine(const v1::Anomaly& a) {
  std::string line = "anomaly " + a.kind();
  std::string where;
  auto add = [&](std::string_view label, const std::string& value) {
    if (value.empty()) return;
    where += (where.empty() ? "" : ", ") + std::string(label) + " " + value;
  };
  add("lot", a.lot_id());
  add("tag", a.tag_id());
  add("site", a.site_id());
  add("shipment", a.shipment_id());
  add("member", a.member_key().empty() ? std::string() : Hex(a.member_key()));
  if (!where.empty()) line += " (" + where + ")";
  if (!a.detail().empty()) line += ": " + a.detail();
  return line;
}

std::string TagId(const std::string& prefix, uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%07" PRIu64, number);
  return prefix + buf;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string SummarizeTxBody(const v1::TxBody& body) {
  std::ostringstream s;
  switch (body.action_case()) {
    case v1::TxBody::kRegisterMember: {
      const auto& a = body.register_member();
      s << "register-member " << HexOrDash(a.member_key()) << " " << Quote(a.name()) << " roles "
        << RoleList(a.roles());
      if (!a.country().empty()) s << " country " << a.country();
      break;
    }
    case v1::TxBody::kSuspendMember:
      s << "suspend-member " << HexOrDash(body.suspend_member().member_key()) << ": "
        << body.suspend_member().reason();
      break;
    case v1::TxBody::kReinstateMember:
      s << "reinstate-member " << HexOrDash(body.reinstate_member().member_key());
      if (!body.reinstate_member().reason().empty()) s << ": " << body.reinstate_member().reason();
      break;
    case v1::TxBody::kRegisterMineSite: {
      const auto& a = body.register_mine_site();
      s << "register-site " << a.site_id() << " " << Quote(a.name()) << " " << a.country() << " "
        << SiteStatusName(a.status()) << " " << MineralList(a.minerals()) << " "
        << a.production_estimate_kg_per_month() << " kg/month";
      if (a.latitude_microdeg() != 0 || a.longitude_microdeg() != 0) {
        s << " at " << FormatMicrodegrees(a.latitude_microdeg()) << ","
          << FormatMicrodegrees(a.longitude_microdeg());
      }
      break;
    }
    case v1::TxBody::kAllocateTags: {
      const auto& a = body.allocate_tags();
      s << "allocate-tags " << TagId(a.prefix(), a.first());
      if (a.count() > 1) s << ".." << TagId(a.prefix(), a.first() + a.count() - 1);
      if (a.kind() == v1::TAG_KIND_PROCESSOR) {
        s << " (" << a.count() << ") processor tags to " << HexOrDash(a.agent_key());
      } else {
        s << " (" << a.count() << ") site " << a.site_id() << " agent "
          << HexOrDash(a.agent_key());
      }
      break;
    }
    case v1::TxBody::kRecordMineLot: {
      const auto& a = body.record_mine_lot();
      s << "record-lot " << a.tag_id() << " site " << a.site_id() << " " << MineralName(a.mineral())
        << " " << FormatKg(a.weight_grams()) << " kg " << FormatPercent(a.grade_basis_points())
        << " % producer " << HexOrDash(a.producer_key());
      break;
    }
    case v1::TxBody::kDispatchLots: {
      const auto& a = body.dispatch_lots();
      s << "dispatch " << JoinIds(a.lot_ids()) << " to " << HexOrDash(a.receiver_key());
      if (!a.delivery_note().empty()) s << " note " << Quote(a.delivery_note());
      break;
    }
    case v1::TxBody::kReceiveLots:
      s << "receive " << Join(body.receive_lots().lots(), ", ", [](const v1::ReceivedLot& l) {
        return l.lot_id() + " " + FormatKg(l.weight_grams()) + " kg";
      });
      break;
    case v1::TxBody::kCancelDispatch:
      s << "cancel-dispatch " << JoinIds(body.cancel_dispatch().lot_ids());
      if (!body.cancel_dispatch().reason().empty()) s << ": " << body.cancel_dispatch().reason();
      break;
    case v1::TxBody::kRecordInspection: {
      const auto& a = body.record_inspection();
      s << "record-inspection " << a.site_id() << " " << SiteStatusName(a.result()) << " on "
        << FormatTimeMs(a.inspected_at_ms()) << " by " << Quote(a.inspector()) << " report "
        << HexOrDash(a.report_hash());
      if (!a.summary().empty()) s << ": " << a.summary();
      break;
    }
    case v1::TxBody::kSetSiteStatus: {
      const auto& a = body.set_site_status();
      s << "set-site-status " << a.site_id() << " " << SiteStatusName(a.status()) << ": "
        << a.reason();
      break;
    }
    case v1::TxBody::kReportTags: {
      const auto& a = body.report_tags();
      s << "report-tags " << JoinIds(a.tag_ids()) << " " << TagStatusName(a.status());
      if (!a.reason().empty()) s << ": " << a.reason();
      break;
    }
    case v1::TxBody::kWithdrawSiteTags:
      s << "withdraw-tags " << body.withdraw_site_tags().site_id() << ": "
        << body.withdraw_site_tags().reason();
      break;
    case v1::TxBody::kRestoreSiteTags:
      s << "restore-tags " << body.restore_site_tags().site_id() << ": "
        << body.restore_site_tags().reason();
      break;
    case v1::TxBody::kProcessLots: {
      const auto& a = body.process_lots();
      s << "process " << ProcessingKindName(a.kind()) << " " << JoinIds(a.input_lot_ids())
        << " into " << Join(a.outputs(), ", ", [](const v1::ProcessedOutput& o) {
             return o.tag_id() + " " + FormatKg(o.weight_grams()) + " kg " +
                    FormatPercent(o.grade_basis_points()) + " %";
           });
      if (!a.note().empty()) s << " note " << Quote(a.note());
      break;
    }
    case v1::TxBody::kFormShipment: {
      const auto& a = body.form_shipment();
      s << "form-shipment " << a.shipment_id() << " of " << JoinIds(a.lot_ids()) << " to "
        << a.destination_country();
      if (!a.note().empty()) s << " note " << Quote(a.note());
      break;
    }
    case v1::TxBody::kReviewShipment: {
      const auto& a = body.review_shipment();
      s << "review-shipment " << a.shipment_id();
      if (a.issue()) {
        s << " issue certificate " << a.certificate_number() << " dated "
          << FormatTimeMs(a.certificate_date_ms());
      } else {
        s << " refuse: " << a.reason();
      }
      break;
    }
    case v1::TxBody::kDispatchShipment:
      s << "dispatch-shipment " << body.dispatch_shipment().shipment_id() << " to smelter "
        << HexOrDash(body.dispatch_shipment().smelter_key());
      break;
    case v1::TxBody::kReceiveShipment:
      s << "receive-shipment " << body.receive_shipment().shipment_id() << " "
        << FormatKg(body.receive_shipment().weight_grams()) << " kg";
      break;
    case v1::TxBody::kCancelShipment:
      s << "cancel-shipment " << body.cancel_shipment().shipment_id() << ": "
        << body.cancel_shipment().reason();
      break;
    case v1::TxBody::kReportIncident: {
      const auto& a = body.report_incident();
      s << "report-incident " << IncidentSubjectKindName(a.subject_kind()) << " "
        << a.subject_id() << " level " << a.level() << " "
        << IncidentCategoryName(a.category());
      if (a.source() != v1::INCIDENT_SOURCE_UNSPECIFIED) {
        s << " source " << IncidentSourceName(a.source());
      }
      if (!a.flag_id().empty()) s << " from flag " << a.flag_id();
      if (a.occurred_at_ms() != 0) s << " occurred " << FormatTimeMs(a.occurred_at_ms());
      s << ": " << a.description();
      break;
    }
    case v1::TxBody::kUpdateIncident: {
      const auto& a = body.update_incident();
      s << "update-incident " << a.incident_id();
      if (a.status() != v1::INCIDENT_STATUS_UNSPECIFIED) {
        s << " status " << IncidentStatusName(a.status());
      }
      if (a.outcome() != v1::INCIDENT_OUTCOME_UNSPECIFIED) {
        s << " outcome " << IncidentOutcomeName(a.outcome());
      }
      if (a.level() != 0) s << " level " << a.level();
      if (a.category() != v1::INCIDENT_CATEGORY_UNSPECIFIED) {
        s << " category " << IncidentCategoryName(a.category());
      }
      if (!a.note().empty()) s << ": " << a.note();
      break;
    }
    case v1::TxBody::kSetAuditFlag: {
      const auto& a = body.set_audit_flag();
      s << "set-audit-flag " << HexOrDash(a.member_key()) << " " << AuditFlagName(a.flag())
        << ": " << a.reason();
      break;
    }
    case v1::TxBody::ACTION_NOT_SET:
      s << "(no action)";
      break;
  }
  return s.str();
}

void PrintStatus(std::ostream& out, const v1::StatusResponse& st) {
  Row(out, "chain id", st.chain_id());
  Row(out, "genesis hash", HexOrDash(st.genesis_hash()));
  Row(out, "node key", HexOrDash(st.node_key()));
  Row(out, "version", st.version().empty() ? "-" : st.version());
  Row(out, "height", std::to_string(st.height()));
  Row(out, "last block time", FormatTimeMs(st.last_block_time_ms()));
  Row(out, "accumulator root", HexOrDash(st.accumulator_root()));
  Row(out, "leaf count", std::to_string(st.leaf_count()));
  Row(out, "mempool",
      std::to_string(st.mempool_txs()) + " txs, " + std::to_string(st.mempool_bytes()) + " bytes");
  if (!st.role().empty()) Row(out, "role", st.role());
  if (st.role() == "validator") Row(out, "round", std::to_string(st.round()));
  Row(out, "misbehaviour", std::to_string(st.misbehaviour_reports()) + " reports");
  Row(out, "peers",
      std::to_string(ConnectedPeers(st)) + "/" + std::to_string(st.peers_size()) + " connected");
  for (const v1::PeerStatus& p : st.peers()) {
    out << "  " << HexOrDash(p.key()).substr(0, 16) << "  "
        << (p.address().empty() ? "(dials us)" : p.address()) << "  "
        << (p.validator() ? "validator" : "observer") << "  "
        << (p.connected() ? "connected" : "down") << "  frames in " << p.frames_in() << " out "
        << p.frames_out();
    if (!p.last_error().empty()) out << "  last error: " << p.last_error();
    out << '\n';
  }
}

// ---- `minetrace status` ----

// Reachable nodes are compared; unreachable ones are named on their own lines only.
AgreementVerdict CheckAgreement(const std::vector<NodeStatusReport>& reports) {
  std::vector<const NodeStatusReport*> up;
  for (const NodeStatusReport& r : reports) {
    if (r.status) up.push_back(&r);
  }
  AgreementVerdict v;
  if (up.empty()) {
    v.agreement = Agreement::kNoneReachable;
    v.line = "no node answered";
    return v;
  }
  // Groups of nodes with the same key, in order of first appearance, each with its names.
  struct Group {
    std::string key;
    std::vector<std::string> names;
  };
  auto group_by = [&](auto&& key_of, const std::vector<const NodeStatusReport*>& among) {
    std::vector<Group> groups;
    for (const NodeStatusReport* r : among) {
      const std::string key = key_of(*r->status);
      auto it =
          std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.key == key; });
      if (it == groups.end()) {
        groups.push_back({key, {}});
        it = groups.end() - 1;
      }
      it->names.push_back(r->name);
    }
    return groups;
  };
  auto names = [](const std::vector<std::string>& list) {
    return Join(list, ", ", [](const std::string& s) { return s; });
  };

  const std::vector<Group> genesis =
      group_by([](const v1::StatusResponse& s) { return HexOrDash(s.genesis_hash()); }, up);
  if (genesis.size() > 1) {
    v.agreement = Agreement::kFork;
    v.line = "nodes disagree: different genesis: " + Join(genesis, "; ", [&](const Group& g) {
               return names(g.names) + " on genesis " + g.key.substr(0, 16);
             });
    return v;
  }

  // Per leaf count (most leaves first), the roots the nodes report there.
  std::vector<uint64_t> counts;
  for (const NodeStatusReport* r : up) counts.push_back(r->status->leaf_count());
  std::sort(counts.begin(), counts.end(), std::greater<>());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  std::vector<std::string> forks;
  std::vector<std::string> steps;
  for (uint64_t count : counts) {
    std::vector<const NodeStatusReport*> at;
    for (const NodeStatusReport* r : up) {
      if (r->status->leaf_count() == count) at.push_back(r);
    }
    const std::vector<Group> roots =
        group_by([](const v1::StatusResponse& s) { return HexOrDash(s.accumulator_root()); }, at);
    if (roots.size() > 1) {
      forks.push_back("at " + Leaves(count) + " " + Join(roots, ", ", [&](const Group& g) {
                        return names(g.names) + " on root " + g.key.substr(0, 16);
                      }));
    }
    steps.push_back(names(roots.front().names) + " at " + Leaves(count) + " (root " +
                    roots.front().key.substr(0, 16) + ")");
  }
  if (!forks.empty()) {
    v.agreement = Agreement::kFork;
    v.line = "nodes disagree: " + Join(forks, "; ", [](const std::string& s) { return s; });
    return v;
  }
  if (counts.size() > 1) {
    v.agreement = Agreement::kBehind;
    v.line = "nodes not in step (no conflicting root): " +
             Join(steps, "; ", [](const std::string& s) { return s; });
    return v;
  }
  v.agreement = Agreement::kAgree;
  const v1::StatusResponse& s = *up.front()->status;
  const bool all = up.size() == reports.size();
  v.line = std::string(all && up.size() > 1 ? "all " : "") + std::to_string(up.size()) +
           (all ? "" : " reachable") + (up.size() == 1 ? " node" : " nodes") + " on root " +
           HexOrDash(s.accumulator_root()) + " at " + Leaves(s.leaf_count());
  return v;
}

namespace {

std::string NodeLabel(const NodeStatusReport& r) {
  return r.name == r.address ? r.address : r.name + " " + r.address;
}

size_t LabelWidth(const std::vector<NodeStatusReport>& reports) {
  size_t width = 0;
  for (const NodeStatusReport& r : reports) width = std::max(width, NodeLabel(r).size());
  return width;
}

}  // namespace

std::string NodeStatusLine(const NodeStatusReport& r, size_t label_width) {
  std::string line = NodeLabel(r);
  if (line.size() < label_width) line.append(label_width - line.size(), ' ');
  line += "  ";
  if (!r.status) return line + (r.unreachable ? "unreachable: " : "error: ") + r.error;
  const v1::StatusResponse& s = *r.status;
  std::string role = s.role().empty() ? "-" : s.role();
  if (role.size() < 9) role.append(9 - role.size(), ' ');
  line += role + "  height " + std::to_string(s.height()) + "  round " +
          (s.role() == "validator" ? std::to_string(s.round()) : std::string("-")) + "  leaves " +
          std::to_string(s.leaf_count()) + "  root " +
          HexOrDash(s.accumulator_root()).substr(0, 16) + "  peers " +
          std::to_string(ConnectedPeers(s)) + "/" + std::to_string(s.peers_size()) + "  mempool " +
          std::to_string(s.mempool_txs());
  if (s.misbehaviour_reports() != 0) {
    line += "  misbehaviour " + std::to_string(s.misbehaviour_reports());
  }
  return line;
}

void PrintNetworkStatus(std::ostream& out, const std::vector<NodeStatusReport>& reports,
                        const AgreementVerdict& verdict) {
  const size_t width = LabelWidth(reports);
  for (const NodeStatusReport& r : reports) out << NodeStatusLine(r, width) << '\n';
  out << verdict.line << '\n';
}

Result<std::string> NetworkStatusJson(const std::vector<NodeStatusReport>& reports,
                                      const AgreementVerdict& verdict) {
  std::string json = "{\"nodes\":[";
  for (size_t i = 0; i < reports.size(); ++i) {
    const NodeStatusReport& r = reports[i];
    json += (i ? "," : "");
    json += "{\"name\":" + JsonString(r.name) + ",\"address\":" + JsonString(r.address) +
            ",\"reachable\":" + (r.status ? "true" : "false");
    if (r.status) {
      auto status = ToJson(*r.status);
      if (!status) return status;
      json += ",\"status\":" + *status;
    } else {
      json += ",\"error\":" + JsonString(r.error);
    }
    json += "}";
  }
  const char* name = "none_reachable";
  switch (verdict.agreement) {
    case Agreement::kAgree:
      name = "agree";
      break;
    case Agreement::kBehind:
      name = "behind";
      break;
    case Agreement::kFork:
      name = "fork";
      break;
    case Agreement::kNoneReachable:
      break;
  }
  std::string root;
  uint64_t leaf_count = 0;
  if (verdict.agreement == Agreement::kAgree) {
    for (const NodeStatusReport& r : reports) {
      if (!r.status) continue;
      root = Hex(r.status->accumulator_root());
      leaf_count = r.status->leaf_count();
      break;
    }
  }
  json += "],\"agreement\":{\"verdict\":\"" + std::string(name) +
          "\",\"summary\":" + JsonString(verdict.line) + ",\"leafCount\":\"" +
          std::to_string(leaf_count) + "\",\"root\":\"" + root + "\"}}";
  return json;
}

void PrintLot(std::ostream& out, const v1::Lot& lot) {
  Row(out, "lot", lot.lot_id());
  Row(out, "tag", lot.tag_id().empty() ? "-" : lot.tag_id());
  if (lot.origin() != v1::LOT_ORIGIN_UNSPECIFIED) {
    Row(out, "origin", std::string(LotOriginName(lot.origin())));
  }
  Row(out, "site", lot.site_id().empty() ? "-" : lot.site_id());
  if (lot.site_status_at_record() != v1::SITE_STATUS_UNSPECIFIED) {
    Row(out, "site status then", std::string(SiteStatusName(lot.site_status_at_record())));
  }
  if (!lot.mine_site_ids().empty()) Row(out, "mine sites", JoinIds(lot.mine_site_ids()));
  Row(out, "mineral", std::string(MineralName(lot.mineral())));
  Row(out, "weight", FormatKg(lot.weight_grams()) + " kg");
  Row(out, "grade", FormatPercent(lot.grade_basis_points()) + " %");
  Row(out, "status", std::string(LotStatusName(lot.status())));
  Row(out, "holder", HexOrDash(lot.holder_key()));
  if (lot.status() == v1::LOT_STATUS_IN_TRANSIT) {
    Row(out, "dispatched by", HexOrDash(lot.dispatched_by()));
    Row(out, "dispatched to", HexOrDash(lot.dispatched_to()));
    Row(out, "dispatched weight", FormatKg(lot.dispatched_weight_grams()) + " kg");
  }
  Row(out, "producer", HexOrDash(lot.producer_key()));
  Row(out, "recorded by", HexOrDash(lot.recorded_by()));
  Row(out, "created",
      "height " + std::to_string(lot.created_height()) + ", device time " +
          FormatTimeMs(lot.created_device_time_ms()));
  Row(out, "last event",
      "ledger time " + FormatTimeMs(lot.last_ledger_time_ms()) + ", device time " +
          FormatTimeMs(lot.last_device_time_ms()));
  Row(out, "last receipt", HexOrDash(lot.last_receipt_hash()));
  if (!lot.parent_lot_ids().empty()) Row(out, "parent lots", JoinIds(lot.parent_lot_ids()));
  if (!lot.processed_by().empty()) {
    Row(out, "processed by", HexOrDash(lot.processed_by()));
    Row(out, "processing",
        "input " + FormatKg(lot.processing_input_grams()) + " kg, loss " +
            FormatKg(lot.processing_loss_grams()) + " kg");
  }
  if (lot.origin_weight_grams() != 0) {
    Row(out, "origin weight", FormatKg(lot.origin_weight_grams()) + " kg");
  }
  if (!lot.child_lot_ids().empty()) Row(out, "child lots", JoinIds(lot.child_lot_ids()));
  if (!lot.shipment_id().empty()) Row(out, "shipment", lot.shipment_id());
}

void PrintLotLine(std::ostream& out, const v1::Lot& lot) {
  out << lot.lot_id() << "  " << (lot.site_id().empty() ? "-" : lot.site_id()) << "  "
      << MineralName(lot.mineral()) << "  " << FormatKg(lot.weight_grams()) << " kg  "
      << FormatPercent(lot.grade_basis_points()) << " %  " << LotStatusName(lot.status()) << "  "
      << HexOrDash(lot.status() == v1::LOT_STATUS_IN_TRANSIT ? lot.dispatched_to()
                                                             : lot.holder_key())
      << '\n';
}

void PrintSite(std::ostream& out, const v1::MineSite& site) {
  Row(out, "site", site.site_id());
  Row(out, "name", site.name());
  Row(out, "country", site.country());
  if (site.latitude_microdeg() != 0 || site.longitude_microdeg() != 0) {
    Row(out, "position",
        FormatMicrodegrees(site.latitude_microdeg()) + ", " +
            FormatMicrodegrees(site.longitude_microdeg()));
  }
  Row(out, "minerals", MineralList(site.minerals()));
  std::string status(SiteStatusName(site.status()));
  if (!site.status_reason().empty()) status += " (" + site.status_reason() + ")";
  Row(out, "status", status);
  if (site.status_changed_ms() != 0) Row(out, "status since", FormatTimeMs(site.status_changed_ms()));
  Row(out, "estimate", std::to_string(site.production_estimate_kg_per_month()) + " kg/month");
  Row(out, "last inspection", FormatTimeMs(site.last_inspection_ms()));
  Row(out, "inspections", std::to_string(site.inspection_count()));
  Row(out, "tags withdrawn",
      site.tags_withdrawn() ? "yes (height " + std::to_string(site.tags_withdrawn_height()) + ")"
      : site.tags_withdrawn_height() != 0
          ? "no (tags allocated up to height " + std::to_string(site.tags_withdrawn_height()) +
                " stay withdrawn)"
          : "no");
  Row(out, "registered", "height " + std::to_string(site.registered_height()));
}

void PrintSiteLine(std::ostream& out, const v1::MineSite& site) {
  out << site.site_id() << "  " << site.country() << "  " << SiteStatusName(site.status()) << "  "
      << MineralList(site.minerals()) << "  " << site.production_estimate_kg_per_month()
      << " kg/month  " << Quote(site.name()) << (site.tags_withdrawn() ? "  tags-withdrawn" : "")
      << '\n';
}

void PrintMember(std::ostream& out, const v1::Member& m) {
  Row(out, "member", HexOrDash(m.key()));
  Row(out, "name", m.name());
  Row(out, "roles", RoleList(m.roles()));
  Row(out, "country", m.country().empty() ? "-" : m.country());
  std::string status(MemberStatusName(m.status()));
  if (!m.status_reason().empty()) status += " (" + m.status_reason() + ")";
  Row(out, "status", status);
  if (m.audit_flag() != v1::AUDIT_FLAG_UNSPECIFIED) {
    std::string flag(AuditFlagName(m.audit_flag()));
    if (!m.audit_flag_reason().empty()) flag += " (" + m.audit_flag_reason() + ")";
    Row(out, "audit flag", flag + " since " + FormatTimeMs(m.audit_flag_set_ms()));
  }
  Row(out, "registered", "height " + std::to_string(m.registered_height()));
}

void PrintTag(std::ostream& out, const v1::Tag& tag) {
  Row(out, "tag", tag.tag_id());
  Row(out, "kind", std::string(TagKindName(tag.kind())));
  Row(out, "site", tag.site_id().empty() ? "-" : tag.site_id());
  Row(out, tag.kind() == v1::TAG_KIND_PROCESSOR ? "processor" : "agent",
      HexOrDash(tag.agent_key()));
  std::string status(TagStatusName(tag.status()));
  if (!tag.status_reason().empty()) status += " (" + tag.status_reason() + ")";
  Row(out, "status", status);
  Row(out, "lot", tag.lot_id().empty() ? "-" : tag.lot_id());
  Row(out, "allocated", "height " + std::to_string(tag.allocated_height()));
}

void PrintReceipt(std::ostream& out, const v1::Receipt& r) {
  Row(out, "status", ReceiptOutcome(r));
  Row(out, "height",
      std::to_string(r.height()) + " (index " + std::to_string(r.index()) + ", leaf " +
          std::to_string(r.leaf_index()) + ")");
  Row(out, "block time", FormatTimeMs(r.block_time_ms()));
  for (const v1::LotLink& link : r.lot_links()) {
    Row(out, "lot link", link.lot_id() + " <- " + HexOrDash(link.previous_receipt_hash()));
  }
  PrintAnomalies(out, r, "");
}

void PrintTxWithReceipt(std::ostream& out, const v1::TxWithReceipt& tx) {
  v1::TxBody body;
  const bool parsed = body.ParseFromString(tx.tx().body());
  Row(out, "tx", TxIdHex(tx));
  Row(out, "signer", HexOrDash(tx.tx().signer()));
  if (parsed) {
    Row(out, "action", SummarizeTxBody(body));
    Row(out, "chain id", body.chain_id());
    Row(out, "nonce", std::to_string(body.nonce()));
    Row(out, "device time", FormatTimeMs(body.created_at_ms()));
  } else {
    Row(out, "action", "(the body does not parse as a TxBody)");
  }
  if (tx.has_receipt()) {
    PrintReceipt(out, tx.receipt());
    Row(out, "receipt hash", HexOrDash(tx.receipt_hash()));
  } else {
    Row(out, "status", "not committed");
  }
}

void PrintHistory(std::ostream& out, const v1::LotHistory& history) {
  PrintLot(out, history.lot());
  out << "\nevents (" << history.events_size() << ", oldest first):\n";
  for (const v1::TxWithReceipt& event : history.events()) {
    const v1::Receipt& r = event.receipt();
    v1::TxBody body;
    const std::string action = body.ParseFromString(event.tx().body())
                                   ? SummarizeTxBody(body)
                                   : "(the body does not parse as a TxBody)";
    out << "height " << r.height() << "  " << FormatTimeMs(r.block_time_ms()) << "  "
        << ReceiptOutcome(r) << "\n";
    out << "  " << action << "\n";
    out << "  signer " << HexOrDash(event.tx().signer()) << "  device time "
        << FormatTimeMs(body.created_at_ms()) << "\n";
    out << "  tx " << TxIdHex(event) << "\n";
    PrintAnomalies(out, r, "  ");
  }
}

Result<void> PrintLedgerInfo(std::ostream& out, const v1::SignedLedgerInfo& signed_info) {
  v1::LedgerInfo info;
  if (!info.ParseFromString(signed_info.ledger_info())) {
    return MakeError(ErrorCode::kDataLoss, "the node sent ledger info bytes that do not parse");
  }
  Row(out, "chain id", info.chain_id());
  Row(out, "height", std::to_string(info.height()));
  Row(out, "block id", HexOrDash(info.block_id()));
  Row(out, "block time", FormatTimeMs(info.block_time_ms()));
  Row(out, "accumulator root", HexOrDash(info.accumulator_root()));
  Row(out, "leaf count", std::to_string(info.leaf_count()));
  Row(out, "signatures", std::to_string(signed_info.signatures_size()));
  for (const v1::ValidatorSignature& sig : signed_info.signatures()) {
    Row(out, "  signed by", HexOrDash(sig.validator_key()));
  }
  return {};
}

Result<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return MakeError(ErrorCode::kInternal, "cannot print " + message.GetTypeName() +
                                               " as JSON: " + std::string(status.message()));
  }
  return json;
}

Result<std::string> TxWithReceiptJson(const v1::TxWithReceipt& tx) {
  v1::TxBody body;
  if (!body.ParseFromString(tx.tx().body())) {
    return MakeError(ErrorCode::kDataLoss, "the node sent a tx body that does not parse");
  }
  auto body_json = ToJson(body);
  if (!body_json) return body_json;
  std::string json = "{\"txId\":\"" + TxIdHex(tx) + "\",\"signer\":\"" + Hex(tx.tx().signer()) +
                     "\",\"signature\":\"" + Hex(tx.tx().signature()) + "\",\"receiptHash\":\"" +
                     Hex(tx.receipt_hash()) + "\",\"body\":" + *body_json;
  if (tx.has_receipt()) {
    auto receipt_json = ToJson(tx.receipt());
    if (!receipt_json) return receipt_json;
    json += ",\"receipt\":" + *receipt_json;
  } else {
    json += ",\"receipt\":null";
  }
  return json + "}";
}

Result<std::string> HistoryJson(const v1::LotHistory& history) {
  auto lot_json = ToJson(history.lot());
  if (!lot_json) return lot_json;
  std::string json = "{\"lot\":" + *lot_json + ",\"events\":[";
  for (int i = 0; i < history.events_size(); ++i) {
    auto event_json = TxWithReceiptJson(history.events(i));
    if (!event_json) return event_json;
    if (i > 0) json += ",";
    json += *event_json;
  }
  return json + "]}";
}

Result<std::string> LedgerInfoJson(const v1::SignedLedgerInfo& signed_info) {
  v1::LedgerInfo info;
  if (!info.ParseFromString(signed_info.ledger_info())) {
    return MakeError(ErrorCode::kDataLoss, "the node sent ledger info bytes that do not parse");
  }
  auto info_json = ToJson(info);
  if (!info_json) return info_json;
  std::string json = "{\"ledgerInfo\":" + *info_json + ",\"signatures\":[";
  for (int i = 0; i < signed_info.signatures_size(); ++i) {
    const v1::ValidatorSignature& sig = signed_info.signatures(i);
    if (i > 0) json += ",";
    json += "{\"validatorKey\":\"" + Hex(sig.validator_key()) + "\",\"signature\":\"" +
            Hex(sig.signature()) + "\"}";
  }
  return json + "]}";
}

}  // namespace minetrace::cli
