// Planning a block: export, incident and oversight actions, and the export rule as
// the models see it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "history.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::history {

std::optional<Planned> History::PlanFormShipment(bool bad) {
  auto exporter = PickActive(exporters_);
  if (!exporter) return std::nullopt;
  std::map<v1::Mineral, std::vector<std::string>> by_mineral;
  if (auto it = snap_.held.find(A(*exporter).id); it != snap_.held.end()) {
    for (const auto& id : Unclaimed(it->second, claims_.lots)) {
      by_mineral[snap_.lots.at(id).mineral()].push_back(id);
    }
  }
  if (by_mineral.empty()) return std::nullopt;
  std::vector<v1::Mineral> minerals;
  for (const auto& [m, lots] : by_mineral) minerals.push_back(m);
  auto lots = Sample(by_mineral.at(Pick(minerals)), U(1, 6));
  auto b = Body();
  auto* a = b.mutable_form_shipment();
  a->set_shipment_id(Numbered("SHP-", static_cast<uint64_t>(++shipment_counter_), 5));
  a->set_destination_country(Chance(0.5) ? "MY" : "CN");
  a->set_note("container " + std::to_string(shipment_counter_));
  for (const auto& id : lots) {
    a->add_lot_ids(id);
    claims_.lots.insert(id);
  }
  if (!bad) return Plan(*exporter, b);
  switch (U(0, 3)) {
    case 0: {  // a shipment id in use
      if (shipments_.empty()) return std::nullopt;
      std::vector<std::string> ids;
      for (const auto& [id, s] : shipments_) ids.push_back(id);
      a->set_shipment_id(Pick(ids));
      return Breach(*exporter, b, "a shipment id is used once", a->shipment_id());
    }
    case 1: {  // a lot the exporter does not hold
      std::vector<std::string> others;
      for (const auto& [holder, held] : snap_.held) {
        if (holder != A(*exporter).id) {
          for (const auto& id : Unclaimed(held, claims_.lots)) others.push_back(id);
        }
      }
      if (others.empty()) return std::nullopt;
      std::string lot = Pick(others);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      return Breach(*exporter, b, "an exporter ships only lots it holds", lot);
    }
    case 2: {  // two minerals
      if (by_mineral.size() < 2) return std::nullopt;
      a->clear_lot_ids();
      for (const auto& [m, held] : by_mineral) {
        a->add_lot_ids(held.front());
        claims_.lots.insert(held.front());
      }
      return Breach(*exporter, b, "a shipment is of one mineral", "");
    }
    default:  // not an exporter
      return Breach(AnyActive(traders_), b, "only exporters form shipments", "");
  }
}

std::vector<std::string> History::Upstream(const std::vector<std::string>& lot_ids,
                                           std::vector<std::string>* problems) const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::vector<std::string> todo(lot_ids.begin(), lot_ids.end());
  while (!todo.empty()) {
    std::string id = todo.back();
    todo.pop_back();
    if (!seen.insert(id).second) continue;
    auto it = snap_.lots.find(id);
    if (it == snap_.lots.end()) {
      if (problems) problems->push_back("upstream lot '" + id + "' does not exist");
      continue;
    }
    out.push_back(id);
    for (const auto& parent : it->second.parent_lot_ids()) todo.push_back(parent);
  }
  return out;
}

History::Blockers History::ExportBlockers(const std::vector<std::string>& lot_ids,
                                          const std::string& exporter, int64_t time_ms,
                                          std::vector<std::string>* problems) const {
  std::map<std::pair<v1::IncidentSubjectKind, std::string>, std::vector<std::string>> open_l1;
  for (const auto& inc : incidents_) {
    if (inc.level == 1 && IncidentOpen(inc.status))
      open_l1[{inc.kind, inc.subject}].push_back(inc.id);
  }
  Blockers b;
  auto incident_on = [&](v1::IncidentSubjectKind kind, const std::string& id,
                         const std::string& what) {
    auto it = open_l1.find({kind, id});
    if (it == open_l1.end()) return;
    b.what.push_back("open level-1 incident " + it->second.front() + " on " + what + " '" + id +
                     "'");
    b.incidents.insert(b.incidents.end(), it->second.begin(), it->second.end());
  };
  std::set<std::string> sites;
  for (const auto& id : Upstream(lot_ids, problems)) {
    const v1::Lot& lot = snap_.lots.at(id);
    incident_on(v1::INCIDENT_SUBJECT_LOT, id, "lot");
    incident_on(v1::INCIDENT_SUBJECT_TAG, lot.tag_id(), "tag");
    if (lot.parent_lot_ids().empty()) sites.insert(lot.site_id());
  }
  for (const auto& site : sites) {
    incident_on(v1::INCIDENT_SUBJECT_SITE, site, "site");
    auto status = site_status_.find(site);
    if (status == site_status_.end()) {
      if (problems) problems->push_back("upstream site '" + site + "' was never registered");
      continue;
    }
    v1::MineSite model;
    model.set_status(status->second);
    model.set_last_inspection_ms(site_inspected_ms_.at(site));
    if (EffectiveSiteStatus(model, time_ms) == v1::SITE_STATUS_RED) {
      b.what.push_back("upstream site '" + site + "' is red");
      b.sites.push_back(site);
    }
  }
  incident_on(v1::INCIDENT_SUBJECT_MEMBER, Hex(exporter), "exporter");
  if (auto it = audit_.find(exporter); it != audit_.end() && it->second == v1::AUDIT_FLAG_RED) {
    b.what.push_back("the exporter's audit flag is red");
  }
  return b;
}

bool History::FreezeBlockers(const Blockers& b, const std::string& exporter) {
  for (const auto& inc : b.incidents) {
    if (claims_.incidents.count(inc)) return false;
  }
  for (const auto& site : b.sites) {
    if (claims_.sites_changed.count(site)) return false;
  }
  if (claims_.members_changed.count(exporter)) return false;
  claims_.incidents.insert(b.incidents.begin(), b.incidents.end());
  claims_.sites_frozen.insert(b.sites.begin(), b.sites.end());
  claims_.members_frozen.insert(exporter);
  return true;
}

std::optional<Planned> History::PlanReviewShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_review_shipment();
  auto issue = [&]() {
    a->set_issue(true);
    a->set_certificate_number(
        Numbered("ICGLR-CD-", static_cast<uint64_t>(++certificate_counter_), 6));
    a->set_certificate_date_ms(now_ms_ - static_cast<int64_t>(U(0, kDayMs)));
  };
  if (bad) {
    switch (U(0, 4)) {
      case 0: {  // the exporter certifies its own shipment
        std::vector<std::string> own;
        for (const auto& id : ShipmentsIn({v1::SHIPMENT_STATUS_FORMED})) {
          auto e = ActorById(shipments_.at(id).exporter);
          if (e && A(*e).Has(v1::ROLE_CERTIFIER)) own.push_back(id);
        }
        if (own.empty()) return std::nullopt;
        std::string id = Pick(own);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        return Breach(*ActorById(shipments_.at(id).exporter), b,
                      "a certifier never certifies its own shipment", id);
      }
      case 1: {  // a certificate number issued before
        if (certificate_numbers_.empty()) return std::nullopt;
        auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED});
        if (pending.empty()) return std::nullopt;
        std::string id = Pick(pending);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        std::vector<std::string> numbers(certificate_numbers_.begin(), certificate_numbers_.end());
        a->set_certificate_number(Pick(numbers));
        auto certifier = PickOther(certifiers_, *ActorById(shipments_.at(id).exporter));
        if (!certifier) return std::nullopt;
        return Breach(*certifier, b, "a certificate number is issued once",
                      a->certificate_number());
      }
      case 2: {  // not a certifier
        auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED});
        if (pending.empty()) return std::nullopt;
        std::string id = Pick(pending);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        return Breach(AnyActive(regulators_), b, "only certifiers review shipments", "");
      }
      case 3: {  // a shipment past review
        auto past = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED, v1::SHIPMENT_STATUS_DISPATCHED,
                                 v1::SHIPMENT_STATUS_RECEIVED, v1::SHIPMENT_STATUS_CANCELLED});
        if (past.empty()) return std::nullopt;
        std::string id = Pick(past);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        return Breach(AnyActive(certifiers_), b, "only a formed or refused shipment is reviewed",
                      id);
      }
      default: {  // a refusal without its reason
        auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED});
        if (pending.empty()) return std::nullopt;
        std::string id = Pick(pending);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        a->set_issue(false);
        return Breach(AnyActive(certifiers_), b, "a refused certificate says why", "");
      }
    }
  }
  auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED});
  if (pending.empty()) return std::nullopt;
  std::string id = Pick(pending);
  const ShipmentModel& s = shipments_.at(id);
  std::vector<size_t> certifiers;
  for (size_t c : certifiers_) {
    if (A(c).id != s.exporter && Active(c)) certifiers.push_back(c);
  }
  if (certifiers.empty()) return std::nullopt;
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  size_t certifier = Pick(certifiers);
  if (Chance(0.2)) {
    a->set_issue(false);
    a->set_reason("the chain of custody needs the processor's records");
    return Plan(certifier, b);
  }
  issue();
  Blockers blockers = ExportBlockers(s.lots, s.exporter, now_ms_, nullptr);
  if (!blockers.what.empty() && FreezeBlockers(blockers, s.exporter)) {
    return Breach(certifier, b, "no certificate while " + blockers.what.front(), id);
  }
  return Plan(certifier, b);
}

std::optional<Planned> History::PlanDispatchShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_dispatch_shipment();
  auto smelter = PickActive(smelters_);
  if (!smelter) return std::nullopt;
  a->set_smelter_key(A(*smelter).id);
  if (bad) {
    switch (U(0, 2)) {
      case 0: {  // without a certificate
        auto uncertified =
            ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED});
        if (uncertified.empty()) return std::nullopt;
        std::string id = Pick(uncertified);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        auto e = ActorById(shipments_.at(id).exporter);
        return Breach(*e, b, "a shipment leaves only with its certificate", id);
      }
      case 1: {  // to a member that is not a smelter
        auto certified = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED});
        if (certified.empty()) return std::nullopt;
        std::string id = Pick(certified);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        a->set_smelter_key(A(Pick(traders_)).id);
        auto e = ActorById(shipments_.at(id).exporter);
        return Breach(*e, b, "shipments go to smelters", "");
      }
      default: {  // by another exporter
        auto certified = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED});
        if (certified.empty()) return std::nullopt;
        std::string id = Pick(certified);
        auto other = PickOther(exporters_, *ActorById(shipments_.at(id).exporter));
        if (!other) return std::nullopt;
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        return Breach(*other, b, "only its exporter dispatches a shipment", id);
      }
    }
  }
  auto certified = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED});
  if (certified.empty()) return std::nullopt;
  std::string id = Pick(certified);
  const ShipmentModel& s = shipments_.at(id);
  auto exporter = ActorById(s.exporter);
  if (!exporter || !Active(*exporter)) return std::nullopt;
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  Blockers blockers = ExportBlockers(s.lots, s.exporter, now_ms_, nullptr);
  if (!blockers.what.empty() && FreezeBlockers(blockers, s.exporter)) {
    return Breach(*exporter, b, "no dispatch while " + blockers.what.front(), id);
  }
  return Plan(*exporter, b);
}

std::optional<Planned> History::PlanReceiveShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_receive_shipment();
  if (bad && Chance(0.5)) {  // a shipment not dispatched
    auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFIED});
    if (pending.empty()) return std::nullopt;
    std::string id = Pick(pending);
    claims_.shipments.insert(id);
    a->set_shipment_id(id);
    a->set_weight_grams(shipments_.at(id).weight_grams);
    return Breach(AnyActive(smelters_), b, "a smelter receives only a dispatched shipment", id);
  }
  auto dispatched = ShipmentsIn({v1::SHIPMENT_STATUS_DISPATCHED});
  if (dispatched.empty()) return std::nullopt;
  std::string id = Pick(dispatched);
  const ShipmentModel& s = shipments_.at(id);
  auto smelter = ActorById(s.smelter);
  if (!smelter) return std::nullopt;
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  uint64_t permille = Chance(0.85) ? U(985, 1010) : U(900, 960);
  a->set_weight_grams(std::max<uint64_t>(1, s.weight_grams * permille / 1000));
  if (bad) {
    auto other = PickOther(smelters_, *smelter);
    if (!other) return std::nullopt;
    return Breach(*other, b, "only the named smelter receives a shipment", id);
  }
  return Plan(*smelter, b);
}

std::optional<Planned> History::PlanCancelShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_cancel_shipment();
  a->set_reason("buyer withdrew");
  if (bad && Chance(0.5)) {  // a shipment already gone
    auto gone = ShipmentsIn({v1::SHIPMENT_STATUS_DISPATCHED, v1::SHIPMENT_STATUS_RECEIVED,
                             v1::SHIPMENT_STATUS_CANCELLED});
    if (gone.empty()) return std::nullopt;
    std::string id = Pick(gone);
    claims_.shipments.insert(id);
    a->set_shipment_id(id);
    return Breach(*ActorById(shipments_.at(id).exporter), b,
                  "only a shipment not yet dispatched is cancelled", id);
  }
  auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFIED,
                              v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED});
  if (pending.empty()) return std::nullopt;
  std::string id = Pick(pending);
  auto exporter = ActorById(shipments_.at(id).exporter);
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  if (bad) {
    if (Chance(0.5)) {
      a->clear_reason();
      return Breach(*exporter, b, "a cancellation says why", "");
    }
    auto other = PickOther(exporters_, *exporter);
    if (!other) return std::nullopt;
    return Breach(*other, b, "only its exporter cancels a shipment", id);
  }
  return Plan(*exporter, b);
}

std::optional<Planned> History::PlanReportIncident(bool bad) {
  auto b = Body();
  auto* a = b.mutable_report_incident();
  a->set_category(static_cast<v1::IncidentCategory>(U(1, 16)));
  uint64_t r = U(0, 99);
  a->set_level(r < 25 ? 1 : r < 60 ? 2 : 3);
  a->set_description("reported by the field team");
  a->set_source(static_cast<v1::IncidentSource>(U(0, 5)));
  if (a->source() == v1::INCIDENT_SOURCE_ANOMALY) a->set_source(v1::INCIDENT_SOURCE_HOTLINE);
  if (Chance(0.5)) a->set_occurred_at_ms(now_ms_ - static_cast<int64_t>(U(0, 30 * kDayMs)));
  // Subjects lean towards what is upstream of pending shipments, so exports get blocked.
  std::vector<std::string> upstream;
  for (const auto& [id, s] : shipments_) {
    if (ShipmentPending(s.status)) {
      for (const auto& lot : Upstream(s.lots, nullptr)) upstream.push_back(lot);
    }
  }
  uint64_t k = U(0, 99);
  if (k < 25 || (k < 60 && upstream.empty() && snap_.lots.empty())) {
    std::vector<std::string> sites;
    for (const auto& [id, s] : snap_.sites) sites.push_back(id);
    a->set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
    a->set_subject_id(Pick(sites));
  } else if (k < 60) {
    std::string lot;
    if (!upstream.empty() && Chance(0.7)) {
      lot = Pick(upstream);
    } else if (!snap_.lots.empty()) {
      auto it = snap_.lots.begin();
      std::advance(it, static_cast<long>(U(0, snap_.lots.size() - 1)));
      lot = it->first;
    } else {
      return std::nullopt;
    }
    a->set_subject_kind(v1::INCIDENT_SUBJECT_LOT);
    a->set_subject_id(lot);
  } else if (k < 72) {
    a->set_subject_kind(v1::INCIDENT_SUBJECT_MEMBER);
    a->set_subject_id(Hex(A(Pick(Chance(0.5) ? exporters_ : traders_)).id));
    // An exporter under a level-1 incident blocks all its exports: keep those rarer.
    if (a->level() == 1 && Chance(0.6)) a->set_level(2);
  } else {
    std::string tag;
    if (!upstream.empty() && Chance(0.7)) {
      tag = snap_.lots.at(Pick(upstream)).tag_id();
    } else if (!snap_.tags.empty()) {
      auto it = snap_.tags.begin();
      std::advance(it, static_cast<long>(U(0, snap_.tags.size() - 1)));
      tag = it->first;
    } else {
      return std::nullopt;
    }
    a->set_subject_kind(v1::INCIDENT_SUBJECT_TAG);
    a->set_subject_id(tag);
  }
  if (!bad && flags_raised_ > 0 && Chance(0.05)) {  // opened from a flag (FLG ids by order)
    std::string flag = Numbered("FLG-", U(1, flags_raised_), 9);
    a->set_flag_id(flag);
    a->set_source(v1::INCIDENT_SOURCE_ANOMALY);
  }
  std::vector<size_t> everyone(registered_.begin(), registered_.end());
  if (!bad) {
    auto reporter = PickActive(everyone);
    if (!reporter) return std::nullopt;
    return Plan(*reporter, b);
  }
  size_t reporter = Pick(regulators_);
  switch (U(0, 4)) {
    case 0:
      if (a->subject_kind() == v1::INCIDENT_SUBJECT_MEMBER) {  // a key never registered
        a->set_subject_id(Hex(std::string(32, 'k')));
      } else {
        a->set_subject_id(a->subject_id() + "-NOPE");
      }
      return Breach(reporter, b, "an incident's subject exists", a->subject_id());
    case 1:
      a->set_level(Chance(0.5) ? 0 : 4);
      return Breach(reporter, b, "an incident's level is 1 to 3", "");
    case 2:
      a->set_category(v1::INCIDENT_CATEGORY_UNSPECIFIED);
      return Breach(reporter, b, "an incident has a category", "");
    case 3:
      a->clear_description();
      return Breach(reporter, b, "an incident has a description", "");
    default: {  // a suspended member reports
      std::vector<size_t> suspended;
      for (size_t i : registered_) {
        if (!Active(i) && !claims_.members_changed.count(A(i).id)) suspended.push_back(i);
      }
      if (suspended.empty()) return std::nullopt;
      size_t who = Pick(suspended);
      claims_.members_frozen.insert(A(who).id);
      return Breach(who, b, kSuspendedActs, "");
    }
  }
}

std::optional<Planned> History::PlanUpdateIncident(bool bad) {
  std::vector<size_t> open, l1_open, closed, later;
  for (size_t i = 0; i < incidents_.size(); ++i) {
    const auto& inc = incidents_[i];
    if (claims_.incidents.count(inc.id)) continue;
    if (inc.status == v1::INCIDENT_STATUS_CLOSED) {
      closed.push_back(i);
      continue;
    }
    open.push_back(i);
    if (inc.level == 1 && IncidentOpen(inc.status)) l1_open.push_back(i);
    if (inc.status != v1::INCIDENT_STATUS_OPEN) later.push_back(i);
  }
  if (open.empty()) return std::nullopt;
  size_t idx = (!l1_open.empty() && Chance(0.6)) ? Pick(l1_open) : Pick(open);
  auto b = Body();
  auto* a = b.mutable_update_incident();
  size_t regulator = Pick(regulators_);
  auto claim = [&](size_t i) {
    claims_.incidents.insert(incidents_[i].id);
    a->set_incident_id(incidents_[i].id);
  };
  if (bad) {
    switch (U(0, 5)) {
      case 0: {  // back to an earlier status
        if (later.empty()) return std::nullopt;
        size_t i = Pick(later);
        claim(i);
        a->set_status(v1::INCIDENT_STATUS_OPEN);
        return Breach(regulator, b, "an incident's status only moves forward", incidents_[i].id);
      }
      case 1:  // closed before it was resolved
        if (incidents_[idx].status == v1::INCIDENT_STATUS_RESOLVED) return std::nullopt;
        claim(idx);
        a->set_status(v1::INCIDENT_STATUS_CLOSED);
        return Breach(regulator, b, "an incident is closed only once resolved", incidents_[idx].id);
      case 2: {  // a status change by someone who is not a regulator
        std::vector<size_t> others;
        for (size_t i : registered_) {
          if (!A(i).Has(v1::ROLE_REGULATOR)) others.push_back(i);
        }
        claim(idx);
        a->set_status(v1::INCIDENT_STATUS_UNDER_MITIGATION);
        if (incidents_[idx].status != v1::INCIDENT_STATUS_OPEN) {
          a->set_status(v1::INCIDENT_STATUS_RESOLVED);
          a->set_outcome(v1::INCIDENT_OUTCOME_MITIGATED);
        }
        return Breach(AnyActive(others), b, "only regulators move an incident along", "");
      }
      case 3: {  // any change to a closed incident
        if (closed.empty()) return std::nullopt;
        size_t i = Pick(closed);
        claim(i);
        a->set_note("one more thing");
        return Breach(regulator, b, "a closed incident never changes", incidents_[i].id);
      }
      case 4:  // resolved without an outcome
        if (incidents_[idx].status == v1::INCIDENT_STATUS_RESOLVED) return std::nullopt;
        claim(idx);
        a->set_status(v1::INCIDENT_STATUS_RESOLVED);
        return Breach(regulator, b, "a resolved incident has an outcome", "");
      default:  // nothing to change
        claim(idx);
        return Breach(regulator, b, "an update changes something or adds a note", "");
    }
  }
  claim(idx);
  const IncidentModel& inc = incidents_[idx];
  uint64_t r = U(0, 99);
  if (r < 10) {  // a note by anyone
    std::vector<size_t> everyone(registered_.begin(), registered_.end());
    auto who = PickActive(everyone);
    if (!who) return std::nullopt;
    a->set_note("seen on the road to the site");
    return Plan(*who, b);
  }
  if (r < 25) {  // reclassified
    a->set_level(inc.level == 1 ? 2 : 1);
    if (Chance(0.5)) {  // another category
      a->set_category(static_cast<v1::IncidentCategory>((inc.category % 16) + U(1, 15)));
      if (a->category() > 16)
        a->set_category(static_cast<v1::IncidentCategory>(a->category() - 16));
    }
    return Plan(regulator, b);
  }
  switch (inc.status) {
    case v1::INCIDENT_STATUS_OPEN:
      if (Chance(0.5)) {
        a->set_status(v1::INCIDENT_STATUS_UNDER_MITIGATION);
        break;
      }
      [[fallthrough]];
    case v1::INCIDENT_STATUS_UNDER_MITIGATION:
      a->set_status(v1::INCIDENT_STATUS_RESOLVED);
      a->set_outcome(static_cast<v1::IncidentOutcome>(U(1, 5)));
      break;
    default:
      a->set_status(v1::INCIDENT_STATUS_CLOSED);
      break;
  }
  if (Chance(0.5)) a->set_note("mission report filed");
  return Plan(regulator, b);
}

std::optional<Planned> History::PlanSetAuditFlag(bool bad) {
  auto b = Body();
  auto* a = b.mutable_set_audit_flag();
  uint64_t r = U(0, 99);
  a->set_flag(r < 60 ? v1::AUDIT_FLAG_GREEN : r < 85 ? v1::AUDIT_FLAG_YELLOW : v1::AUDIT_FLAG_RED);
  a->set_reason("annual audit");
  size_t regulator = Pick(regulators_);
  if (bad) {
    switch (U(0, 2)) {
      case 0:
        a->set_member_key(A(Pick(traders_)).id);
        return Breach(regulator, b, "audit flags are for exporters", "");
      case 1:
        a->set_member_key(A(Pick(exporters_)).id);
        return Breach(AnyActive(certifiers_), b, "only regulators set audit flags", "");
      default:
        a->set_member_key(A(Pick(exporters_)).id);
        a->set_flag(v1::AUDIT_FLAG_UNSPECIFIED);
        return Breach(regulator, b, "an audit flag is green, yellow or red", "");
    }
  }
  std::vector<size_t> exporters;
  for (size_t e : exporters_) {
    if (!claims_.members_frozen.count(A(e).id) && !claims_.members_changed.count(A(e).id)) {
      exporters.push_back(e);
    }
  }
  if (exporters.empty()) return std::nullopt;
  size_t e = Pick(exporters);
  // Red flags are lifted sooner than they are raised, so exports keep flowing.
  if (audit_[A(e).id] == v1::AUDIT_FLAG_RED && Chance(0.7)) a->set_flag(v1::AUDIT_FLAG_GREEN);
  claims_.members_changed.insert(A(e).id);
  a->set_member_key(A(e).id);
  return Plan(regulator, b);
}

}  // namespace minetrace::ledger::history
