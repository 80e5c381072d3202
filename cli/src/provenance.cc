#include "provenance.h"

#include <map>
#include <set>
#include <vector>

#include "format.h"
#include "minetrace/base/bytes.h"
#include "parse.h"
#include "records.h"

namespace minetrace::cli {
namespace {

std::string Hex(const std::string& bytes) { return ToHex(AsBytes(bytes)); }

bool IsOpen(const v1::Incident& i) {
  return i.status() == v1::INCIDENT_STATUS_OPEN ||
         i.status() == v1::INCIDENT_STATUS_UNDER_MITIGATION;
}

// Everything the views look up by id: members by key, sites, lots, and which flags and
// incidents belong to which lot, site and member.
class Index {
 public:
  explicit Index(const v1::Provenance& p) : p_(p) {
    for (const v1::Member& m : p.members()) members_[m.key()] = &m;
    for (const v1::MineSite& s : p.sites()) sites_[s.site_id()] = &s;
    for (const v1::ProvenanceLot& l : p.lots()) lots_[l.lot().lot_id()] = &l;
    for (const v1::ProvenanceLot& pl : p.lots()) {
      if (!pl.lot().tag_id().empty()) tag_to_lot_[pl.lot().tag_id()] = pl.lot().lot_id();
    }
  }

  const v1::ProvenanceLot* Lot(const std::string& id) const {
    auto it = lots_.find(id);
    return it == lots_.end() ? nullptr : it->second;
  }
  const v1::MineSite* Site(const std::string& id) const {
    auto it = sites_.find(id);
    return it == sites_.end() ? nullptr : it->second;
  }
  const v1::Member* Member(const std::string& key) const {
    auto it = members_.find(key);
    return it == members_.end() ? nullptr : it->second;
  }

  // "Name (0123abcd)", or the first 16 hex digits of an unknown key.
  std::string Who(const std::string& key) const {
    if (key.empty()) return "-";
    const v1::Member* m = Member(key);
    if (m == nullptr || m->name().empty()) return Hex(key).substr(0, 16);
    return m->name() + " (" + Hex(key).substr(0, 8) + ")";
  }

  // Flags raised on a lot (or its tag, when the flag names no lot).
  std::vector<const v1::Flag*> LotFlags(const v1::Lot& lot) const {
    std::vector<const v1::Flag*> out;
    for (const v1::Flag& f : p_.flags()) {
      if (f.lot_id() == lot.lot_id() ||
          (f.lot_id().empty() && !f.tag_id().empty() && f.tag_id() == lot.tag_id())) {
        out.push_back(&f);
      }
    }
    return out;
  }
  // Flags of a site that name no lot shown in the graph.
  std::vector<const v1::Flag*> SiteFlags(const std::string& site_id) const {
    std::vector<const v1::Flag*> out;
    for (const v1::Flag& f : p_.flags()) {
      if (f.site_id() == site_id && Lot(f.lot_id()) == nullptr &&
          tag_to_lot_.count(f.tag_id()) == 0) {
        out.push_back(&f);
      }
    }
    return out;
  }
  std::vector<const v1::Incident*> IncidentsOf(v1::IncidentSubjectKind kind,
                                               const std::string& id) const {
    std::vector<const v1::Incident*> out;
    if (id.empty()) return out;
    for (const v1::Incident& i : p_.incidents()) {
      if (i.subject_kind() == kind && i.subject_id() == id) out.push_back(&i);
    }
    return out;
  }
  std::vector<const v1::Incident*> LotIncidents(const v1::Lot& lot) const {
    std::vector<const v1::Incident*> out = IncidentsOf(v1::INCIDENT_SUBJECT_LOT, lot.lot_id());
    for (const v1::Incident* i : IncidentsOf(v1::INCIDENT_SUBJECT_TAG, lot.tag_id())) {
      out.push_back(i);
    }
    return out;
  }
  bool BlockedByIncident(const v1::Lot& lot) const {
    for (const v1::Incident* i : LotIncidents(lot)) {
      if (i->level() == 1 && IsOpen(*i)) return true;
    }
    return false;
  }

 private:
  const v1::Provenance& p_;
  std::map<std::string, const v1::Member*> members_;
  std::map<std::string, const v1::MineSite*> sites_;
  std::map<std::string, const v1::ProvenanceLot*> lots_;
  std::map<std::string, std::string> tag_to_lot_;
};

std::string IncidentText(const v1::Incident& i) {
  std::string s = "incident " + i.incident_id() + "  " +
                  std::string(IncidentStatusName(i.status())) + "  level " +
                  std::to_string(i.level()) + "  " +
                  std::string(IncidentCategoryName(i.category()));
  if (i.level() == 1 && IsOpen(i)) s += "  BLOCKS EXPORT";
  if (i.outcome() != v1::INCIDENT_OUTCOME_UNSPECIFIED) {
    s += "  outcome " + std::string(IncidentOutcomeName(i.outcome()));
  }
  return s + ": " + OneLine(i.description(), 100);
}

std::string FlagText(const v1::Flag& f) {
  std::string s = "flag " + f.flag_id() + "  " + f.kind();
  if (f.tx_status() == v1::TX_STATUS_FAILED) s += "  (tx refused)";
  if (!f.incident_id().empty()) s += "  incident " + f.incident_id();
  if (!f.detail().empty()) s += ": " + OneLine(f.detail(), 200);
  return s;
}

std::string SiteText(const v1::MineSite& s) {
  std::string text = "site " + s.site_id() + " \"" + s.name() + "\" " + s.country() + "  now " +
                     std::string(SiteStatusName(s.status()));
  if (!s.status_reason().empty()) text += " (" + OneLine(s.status_reason(), 80) + ")";
  text += ", last inspection " + FormatTimeMs(s.last_inspection_ms());
  if (s.tags_withdrawn()) text += ", TAGS WITHDRAWN";
  return text;
}

// A site as its registration shows it (a proof bundle proves no current status).
std::string RegisteredSiteText(const v1::MineSite& s) {
  return "site " + s.site_id() + " \"" + s.name() + "\" " + s.country() + ", registered at height " +
         std::to_string(s.registered_height());
}

std::string LotHeader(const v1::Lot& lot, const Index& index) {
  std::string s = "lot " + lot.lot_id() + "  " + std::string(LotOriginName(lot.origin())) +
                  "  " + std::string(MineralName(lot.mineral())) + "  " +
                  FormatKg(lot.weight_grams()) + " kg  " +
                  FormatPercent(lot.grade_basis_points()) + " %  " +
                  std::string(LotStatusName(lot.status()));
  if (!lot.holder_key().empty()) s += "  holder " + index.Who(lot.holder_key());
  if (lot.status() == v1::LOT_STATUS_IN_TRANSIT) s += "  to " + index.Who(lot.dispatched_to());
  if (!lot.shipment_id().empty()) s += "  shipment " + lot.shipment_id();
  return s;
}

// The detail lines of one lot (without the tree prefix). A site is described in full (with
// its incidents and flags) the first time only; `sites_shown` remembers which were.
std::vector<std::string> LotDetails(const v1::ProvenanceLot& pl, const Index& index,
                                    std::set<std::string>& sites_shown,
                                    const BundleTreeNotes* bundle) {
  const v1::Lot& lot = pl.lot();
  std::vector<std::string> lines;
  if (lot.origin() == v1::LOT_ORIGIN_PROCESSING || !lot.parent_lot_ids().empty()) {
    std::string parents;
    for (const std::string& id : lot.parent_lot_ids()) parents += (parents.empty() ? "" : ", ") + id;
    lines.push_back("processed by " + index.Who(lot.processed_by()) + " from " + parents +
                    " (input " + FormatKg(lot.processing_input_grams()) + " kg, loss " +
                    FormatKg(lot.processing_loss_grams()) + " kg)");
    if (!lot.mine_site_ids().empty()) {
      std::string sites;
      for (const std::string& id : lot.mine_site_ids()) sites += (sites.empty() ? "" : ", ") + id;
      lines.push_back("mine sites upstream: " + sites);
    }
  } else {
    lines.push_back("recorded by " + index.Who(lot.recorded_by()) + ", producer " +
                    index.Who(lot.producer_key()) + ", origin weight " +
                    FormatKg(lot.origin_weight_grams()) + " kg");
    const v1::MineSite* site = index.Site(lot.site_id());
    const bool first = sites_shown.insert(lot.site_id()).second;
    std::string at_record = std::string(SiteStatusName(lot.site_status_at_record()));
    if (bundle != nullptr) {
      auto basis = bundle->site_status_basis.find(lot.lot_id());
      at_record += basis == bundle->site_status_basis.end()
                       ? " (no status tx in the bundle)"
                       : " (per " + basis->second + ")";
    }
    const std::string site_text = site == nullptr ? "site " + lot.site_id()
                                  : !first        ? "site " + lot.site_id() + " (see above)"
                                  : bundle != nullptr ? RegisteredSiteText(*site)
                                                      : SiteText(*site);
    lines.push_back(site_text + "; " + at_record + " when the lot was recorded");
    if (site != nullptr && first) {
      for (const v1::Incident* i : index.IncidentsOf(v1::INCIDENT_SUBJECT_SITE, lot.site_id())) {
        lines.push_back("  site " + IncidentText(*i));
      }
      for (const v1::Flag* f : index.SiteFlags(lot.site_id())) {
        lines.push_back("  site " + FlagText(*f));
      }
    }
  }
  for (const v1::CustodyEvent& e : pl.events()) {
    std::string line = "h" + std::to_string(e.height()) + "  " + FormatTimeMs(e.ledger_time_ms()) +
                       "  " + e.action() + "  by " + index.Who(e.actor());
    if (!e.counterparty().empty()) line += " -> " + index.Who(e.counterparty());
    if (e.weight_grams() != 0) line += "  " + FormatKg(e.weight_grams()) + " kg";
    // A tx signed long before its block (offline collection) says so.
    const int64_t delay_ms = e.ledger_time_ms() - e.device_time_ms();
    if (e.device_time_ms() != 0 && (delay_ms > 60'000 || delay_ms < -60'000)) {
      line += "  (signed " + FormatTimeMs(e.device_time_ms()) + ")";
    }
    lines.push_back(line);
  }
  for (const v1::Flag* f : index.LotFlags(lot)) lines.push_back(FlagText(*f));
  for (const v1::Incident* i : index.LotIncidents(lot)) lines.push_back(IncidentText(*i));
  return lines;
}

std::string DotQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Label lines joined with DOT's escaped line break "\n".
std::string DotLabel(const std::vector<std::string>& lines) {
  std::string out = "\"";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\\n";
    const std::string q = DotQuote(lines[i]);
    out += q.substr(1, q.size() - 2);
  }
  return out + "\"";
}

const char* SiteFill(v1::SiteStatus status) {
  switch (status) {
    case v1::SITE_STATUS_GREEN:
      return "palegreen";
    case v1::SITE_STATUS_YELLOW:
      return "khaki1";
    case v1::SITE_STATUS_RED:
      return "salmon";
    case v1::SITE_STATUS_BLUE:
      return "lightblue";
    default:
      return "white";
  }
}

}  // namespace

void PrintProvenanceTree(std::ostream& out, const v1::Provenance& p,
                         const BundleTreeNotes* bundle) {
  const Index index(p);
  std::vector<std::string> roots;
  if (p.has_shipment() && !p.shipment().shipment_id().empty()) {
    const v1::Shipment& s = p.shipment();
    out << "shipment " << s.shipment_id() << "  " << ShipmentStatusName(s.status()) << "  "
        << MineralName(s.mineral()) << "  " << FormatKg(s.weight_grams()) << " kg  "
        << s.lot_ids_size() << (s.lot_ids_size() == 1 ? " lot" : " lots") << "  to "
        << (s.destination_country().empty() ? "-" : s.destination_country()) << '\n';
    out << "  exporter     " << index.Who(s.exporter_key());
    if (const v1::Member* m = index.Member(s.exporter_key())) {
      out << "  audit flag " << AuditFlagName(m->audit_flag());
    }
    out << '\n';
    if (s.has_certificate() && !s.certificate().number().empty()) {
      out << "  certificate  " << s.certificate().number() << " dated "
          << FormatTimeMs(s.certificate().date_ms()) << " by "
          << index.Who(s.certificate().certifier_key()) << " (height "
          << s.certificate().height() << ")\n";
    }
    if (!s.refusal_reason().empty()) {
      out << "  refused      by " << index.Who(s.reviewed_by()) << ": " << s.refusal_reason()
          << '\n';
    }
    if (!s.smelter_key().empty()) {
      out << "  smelter      " << index.Who(s.smelter_key());
      if (s.received_at_ms() != 0) {
        out << ", received " << FormatTimeMs(s.received_at_ms()) << " with "
            << FormatKg(s.received_weight_grams()) << " kg found";
      }
      out << '\n';
    }
    roots.assign(s.lot_ids().begin(), s.lot_ids().end());
  } else if (!p.lots().empty()) {
    roots.push_back(p.lots(0).lot().lot_id());
  }

  // Depth first, iteratively (custody chains can be long), children in order.
  struct Item {
    std::string lot_id;
    std::string prefix;  // drawn before this lot's connector
    bool last;
  };
  std::vector<Item> stack;
  for (size_t i = roots.size(); i-- > 0;) stack.push_back({roots[i], "", i + 1 == roots.size()});
  std::set<std::string> shown;
  std::set<std::string> sites_shown;
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    const std::string connector = item.last ? "`-- " : "+-- ";
    const std::string below = item.prefix + (item.last ? "    " : "|   ");
    const v1::ProvenanceLot* pl = index.Lot(item.lot_id);
    if (pl == nullptr) {
      out << item.prefix << connector << "lot " << item.lot_id
          << (p.truncated() ? "  (not shown: more than 10,000 upstream lots)" : "  (not shown)")
          << '\n';
      continue;
    }
    if (!shown.insert(item.lot_id).second) {
      out << item.prefix << connector << "lot " << item.lot_id << "  (shown above)\n";
      continue;
    }
    const v1::Lot& lot = pl->lot();
    out << item.prefix << connector << LotHeader(lot, index) << '\n';
    const bool has_children = !lot.parent_lot_ids().empty();
    const std::string detail_prefix = below + (has_children ? "|  " : "   ");
    for (const std::string& line : LotDetails(*pl, index, sites_shown, bundle)) {
      out << detail_prefix << line << '\n';
    }
    const auto& parents = lot.parent_lot_ids();
    for (int i = parents.size(); i-- > 0;) {
      stack.push_back({parents[i], below, i + 1 == parents.size()});
    }
  }

  if (!p.members().empty()) {
    out << "\nmembers:\n";
    for (const v1::Member& m : p.members()) {
      std::string roles;
      for (int r : m.roles()) {
        roles += (roles.empty() ? "" : ",") + std::string(RoleName(static_cast<v1::Role>(r)));
      }
      out << "  " << Hex(m.key()) << "  " << m.name() << "  " << roles;
      if (bundle != nullptr) {
        // Registered, not necessarily active now: suspensions are not in the bundle.
        if (!m.country().empty()) out << "  " << m.country();
        out << (m.registered_height() != 0
                    ? "  registered at height " + std::to_string(m.registered_height())
                    : std::string("  founding administrator (trusted genesis)"));
      } else {
        out << "  " << MemberStatusName(m.status());
      }
      if (m.audit_flag() != v1::AUDIT_FLAG_UNSPECIFIED) {
        out << "  audit flag " << AuditFlagName(m.audit_flag());
      }
      out << '\n';
      for (const v1::Incident* i : index.IncidentsOf(v1::INCIDENT_SUBJECT_MEMBER, Hex(m.key()))) {
        out << "    " << IncidentText(*i) << '\n';
      }
    }
  }
  out << p.lots_size() << (p.lots_size() == 1 ? " lot, " : " lots, ") << p.sites_size()
      << (p.sites_size() == 1 ? " site, " : " sites, ") << p.flags_size()
      << (p.flags_size() == 1 ? " flag, " : " flags, ") << p.incidents_size()
      << (p.incidents_size() == 1 ? " incident" : " incidents");
  if (p.truncated()) out << "  (TRUNCATED: more than 10,000 upstream lots)";
  out << '\n';
}

std::string ProvenanceDot(const v1::Provenance& p) {
  const Index index(p);
  std::string dot = "digraph provenance {\n  rankdir=LR;\n"
                    "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
                    "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  if (p.has_shipment() && !p.shipment().shipment_id().empty()) {
    const v1::Shipment& s = p.shipment();
    std::vector<std::string> label = {"shipment " + s.shipment_id(),
                                      std::string(ShipmentStatusName(s.status())),
                                      FormatKg(s.weight_grams()) + " kg"};
    if (s.has_certificate() && !s.certificate().number().empty()) {
      label.push_back("certificate " + s.certificate().number());
    }
    const std::string id = DotQuote("shipment:" + s.shipment_id());
    dot += "  " + id + " [shape=box3d, label=" + DotLabel(label) + "];\n";
    for (const std::string& lot : s.lot_ids()) {
      dot += "  " + id + " -> " + DotQuote("lot:" + lot) + ";\n";
    }
  }
  for (const v1::ProvenanceLot& pl : p.lots()) {
    const v1::Lot& lot = pl.lot();
    const std::string id = DotQuote("lot:" + lot.lot_id());
    std::vector<std::string> label = {
        lot.lot_id(),
        std::string(LotOriginName(lot.origin())) + " " + std::string(MineralName(lot.mineral())),
        FormatKg(lot.weight_grams()) + " kg  " + FormatPercent(lot.grade_basis_points()) + " %",
        std::string(LotStatusName(lot.status()))};
    const size_t flags = index.LotFlags(lot).size();
    if (flags > 0) label.push_back(std::to_string(flags) + (flags == 1 ? " flag" : " flags"));
    std::string style;
    if (index.BlockedByIncident(lot)) {
      label.push_back("open level-1 incident");
      style = ", color=red, penwidth=2";
    } else if (flags > 0) {
      style = ", color=orange";
    }
    dot += "  " + id + " [label=" + DotLabel(label) + style + "];\n";
    for (const std::string& parent : lot.parent_lot_ids()) {
      dot += "  " + id + " -> " + DotQuote("lot:" + parent) + ";\n";
    }
    if (lot.origin() != v1::LOT_ORIGIN_PROCESSING && !lot.site_id().empty()) {
      dot += "  " + id + " -> " + DotQuote("site:" + lot.site_id()) + " [label=" +
             DotQuote(std::string(SiteStatusName(lot.site_status_at_record())) + " at record") +
             "];\n";
    }
  }
  for (const v1::MineSite& s : p.sites()) {
    std::vector<std::string> label = {s.site_id(), s.name(),
                                      "now " + std::string(SiteStatusName(s.status()))};
    if (s.tags_withdrawn()) label.push_back("tags withdrawn");
    dot += "  " + DotQuote("site:" + s.site_id()) + " [shape=house, style=filled, fillcolor=" +
           SiteFill(s.status()) + ", label=" + DotLabel(label) + "];\n";
  }
  return dot + "}\n";
}

}  // namespace minetrace::cli
