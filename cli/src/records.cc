#include "records.h"

#include <algorithm>

#include "format.h"
#include "parse.h"

namespace minetrace::cli {
namespace {

void Row(std::ostream& out, std::string_view label, const std::string& value) {
  out << label;
  for (size_t i = label.size(); i < 19; ++i) out << ' ';
  out << value << '\n';
}

std::string Subject(v1::IncidentSubjectKind kind, const std::string& id) {
  return std::string(IncidentSubjectKindName(kind)) + " " + id;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

std::string OneLine(const std::string& text, size_t max_bytes) {
  std::string s = text;
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  // Back up to the start of a UTF-8 character (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

void PrintIncident(std::ostream& out, const v1::Incident& i) {
  Row(out, "incident", i.incident_id());
  Row(out, "subject", Subject(i.subject_kind(), i.subject_id()));
  Row(out, "category", std::string(IncidentCategoryName(i.category())));
  Row(out, "level", std::to_string(i.level()) + (i.level() == 1 ? " (blocks exports while open)"
                                                                : ""));
  Row(out, "status", std::string(IncidentStatusName(i.status())));
  if (i.outcome() != v1::INCIDENT_OUTCOME_UNSPECIFIED) {
    Row(out, "outcome", std::string(IncidentOutcomeName(i.outcome())));
  }
  Row(out, "source", std::string(IncidentSourceName(i.source())));
  if (!i.flag_id().empty()) Row(out, "from flag", i.flag_id());
  Row(out, "reported",
      FormatTimeMs(i.reported_at_ms()) + " (height " + std::to_string(i.reported_height()) +
          ") by " + HexOrDash(i.reported_by()));
  Row(out, "occurred", FormatTimeMs(i.occurred_at_ms()));
  if (i.closed_at_ms() != 0) Row(out, "closed", FormatTimeMs(i.closed_at_ms()));
  Row(out, "description", i.description());
  if (i.notes().empty()) return;
  out << "notes (" << i.notes_size() << ", oldest first):\n";
  for (const v1::IncidentNote& n : i.notes()) {
    out << "  " << FormatTimeMs(n.at_ms()) << "  height " << n.height() << "  "
        << IncidentStatusName(n.status_after()) << "  by " << HexOrDash(n.author()) << '\n';
    if (!n.text().empty()) out << "    " << OneLine(n.text(), 4000) << '\n';
  }
}

void PrintIncidentLine(std::ostream& out, const v1::Incident& i) {
  out << i.incident_id() << "  " << IncidentStatusName(i.status()) << "  level " << i.level()
      << "  " << IncidentCategoryName(i.category()) << "  "
      << Subject(i.subject_kind(), i.subject_id()) << "  reported "
      << FormatTimeMs(i.reported_at_ms()) << "  " << OneLine(i.description(), 60) << '\n';
}

void PrintFlagLine(std::ostream& out, const v1::Flag& f) {
  out << f.flag_id() << "  " << f.kind();
  if (!f.lot_id().empty()) out << "  lot " << f.lot_id();
  if (!f.site_id().empty()) out << "  site " << f.site_id();
  if (!f.tag_id().empty()) out << "  tag " << f.tag_id();
  if (!f.shipment_id().empty()) out << "  shipment " << f.shipment_id();
  if (!f.member_key().empty()) out << "  member " << HexOrDash(f.member_key());
  out << "  height " << f.height() << "  " << FormatTimeMs(f.raised_at_ms()) << "  tx "
      << TxStatusName(f.tx_status());
  if (!f.incident_id().empty()) out << "  incident " << f.incident_id();
  if (!f.detail().empty()) out << ": " << f.detail();
  out << '\n';
}

void PrintShipment(std::ostream& out, const v1::Shipment& s) {
  Row(out, "shipment", s.shipment_id());
  Row(out, "status", std::string(ShipmentStatusName(s.status())));
  Row(out, "exporter", HexOrDash(s.exporter_key()));
  Row(out, "mineral", std::string(MineralName(s.mineral())));
  Row(out, "weight", FormatKg(s.weight_grams()) + " kg (when formed)");
  Row(out, "destination", OrDash(s.destination_country()));
  Row(out, "lots", std::to_string(s.lot_ids_size()) + ": " + [&] {
        std::string ids;
        for (const std::string& id : s.lot_ids()) ids += (ids.empty() ? "" : ", ") + id;
        return ids;
      }());
  Row(out, "formed",
      FormatTimeMs(s.formed_at_ms()) + " (height " + std::to_string(s.formed_height()) + ")");
  if (s.has_certificate() && !s.certificate().number().empty()) {
    const v1::Certificate& c = s.certificate();
    Row(out, "certificate",
        c.number() + " dated " + FormatTimeMs(c.date_ms()) + " (height " +
            std::to_string(c.height()) + ")");
    Row(out, "certifier", HexOrDash(c.certifier_key()));
  }
  if (!s.reviewed_by().empty()) Row(out, "reviewed by", HexOrDash(s.reviewed_by()));
  if (!s.refusal_reason().empty()) Row(out, "refused because", s.refusal_reason());
  if (!s.smelter_key().empty()) Row(out, "smelter", HexOrDash(s.smelter_key()));
  if (s.dispatched_at_ms() != 0) Row(out, "dispatched", FormatTimeMs(s.dispatched_at_ms()));
  if (s.received_at_ms() != 0) {
    Row(out, "received",
        FormatTimeMs(s.received_at_ms()) + ", " + FormatKg(s.received_weight_grams()) +
            " kg found");
  }
  if (!s.note().empty()) Row(out, "note", s.note());
}

void PrintShipmentLine(std::ostream& out, const v1::Shipment& s) {
  out << s.shipment_id() << "  " << ShipmentStatusName(s.status()) << "  "
      << MineralName(s.mineral()) << "  " << FormatKg(s.weight_grams()) << " kg  "
      << s.lot_ids_size() << (s.lot_ids_size() == 1 ? " lot" : " lots") << "  to "
      << OrDash(s.destination_country()) << "  exporter " << HexOrDash(s.exporter_key());
  if (s.has_certificate() && !s.certificate().number().empty()) {
    out << "  certificate " << s.certificate().number();
  }
  out << '\n';
}

void PrintInspectionLine(std::ostream& out, const v1::Inspection& i) {
  out << "#" << i.sequence() << "  " << FormatTimeMs(i.inspected_at_ms()) << "  "
      << SiteStatusName(i.result()) << "  \"" << i.inspector() << "\"  report "
      << HexOrDash(i.report_hash()) << "  recorded height " << i.height() << " by "
      << HexOrDash(i.recorded_by());
  if (!i.summary().empty()) out << ": " << OneLine(i.summary(), 1000);
  out << '\n';
}

void PrintSiteProduction(std::ostream& out, const v1::SiteProduction& p) {
  const v1::MineSite& site = p.site();
  out << "site " << site.site_id() << " \"" << site.name() << "\"  estimate "
      << site.production_estimate_kg_per_month()
      << " kg per 30-day month  (months are 30-day ledger months from the Unix epoch)\n";
  out << "month  start                     tagged kg        estimate kg\n";
  uint64_t total = 0;
  size_t above = 0;
  for (const v1::MonthProduction& m : p.months()) {
    std::string month = std::to_string(m.month());
    std::string tagged = FormatKg(m.tagged_grams());
    std::string estimate = FormatKg(m.estimate_grams());
    month.resize(std::max<size_t>(month.size(), 5), ' ');
    tagged.insert(0, tagged.size() < 14 ? 14 - tagged.size() : 0, ' ');
    estimate.insert(0, estimate.size() < 14 ? 14 - estimate.size() : 0, ' ');
    out << month << "  " << FormatTimeMs(m.start_ms()) << "  " << tagged << "  " << estimate
        << (m.above_estimate() ? "  ABOVE ESTIMATE" : "") << '\n';
    total += m.tagged_grams();
    above += m.above_estimate() ? 1 : 0;
  }
  out << p.months_size() << (p.months_size() == 1 ? " month, " : " months, ") << FormatKg(total)
      << " kg tagged, " << above << " above the estimate\n";
}

void PrintHoldings(std::ostream& out, const v1::Holdings& h) {
  const v1::Member& m = h.member();
  const v1::MassBalance& b = h.balance();
  Row(out, "member", HexOrDash(m.key()));
  Row(out, "name", m.name());
  Row(out, "holds", std::to_string(h.held_lots()) + " lots, " + FormatKg(h.held_grams()) +
                        " kg (held or in a shipment)");
  Row(out, "in transit to it",
      std::to_string(h.in_transit_to_lots()) + " lots, " + FormatKg(h.in_transit_to_grams()) +
          " kg");
  if (h.truncated()) Row(out, "truncated", "yes: more than 100,000 lots; counts cover the first");
  out << "mass balance (kg):\n";
  auto kg = [&](std::string_view label, uint64_t grams) {
    std::string padded = "  " + std::string(label);
    padded.resize(std::max<size_t>(padded.size() + 1, 21), ' ');
    out << padded << FormatKg(grams) << '\n';
  };
  kg("produced", b.produced_grams());
  kg("received", b.received_grams());
  kg("dispatched", b.dispatched_grams());
  kg("processing in", b.processing_input_grams());
  kg("processing out", b.processing_output_grams());
  kg("processing loss", b.processing_loss_grams());
  kg("exported", b.exported_grams());
  kg("smelter received", b.smelter_received_grams());
}

}  // namespace minetrace::cli
