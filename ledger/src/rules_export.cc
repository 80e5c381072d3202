// Export (domain.md rule 6): an exporter forms a shipment from lots it holds, a certifier
// issues or refuses the ICGLR certificate, the exporter dispatches a certified shipment to a
// smelter, which confirms its receipt. Certification and dispatch both run the export
// checks over everything upstream of the shipment.
#include <deque>
#include <map>
#include <set>

#include "execution.h"

namespace minetrace::ledger::detail {

Result<void> Execution::FormShipment(const v1::FormShipment& a) {
  auto signer = RequireSigner({v1::ROLE_EXPORTER}, "form export shipments");
  if (!signer) return tl::unexpected(signer.error());
  if (!IsIdentifier(a.shipment_id(), 64)) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "shipment_id must be 1 to 64 letters, digits, '-', '_' or '.'"));
  }
  if (!IsCountryCode(a.destination_country())) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "destination country must be an ISO 3166-1 alpha-2 code such "
                                 "as MY"));
  }
  MT_TRY(CheckText(a.note(), "note", 0, kMaxReasonChars));
  std::vector<std::string> ids(a.lot_ids().begin(), a.lot_ids().end());
  MT_TRY(CheckDistinct(ids));
  auto existing = view_.GetShipment(a.shipment_id());
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kAlreadyExists, "shipment '" + a.shipment_id() + "' already exists"));
  }
  v1::Shipment s;
  s.set_shipment_id(a.shipment_id());
  s.set_exporter_key(signer_);
  uint64_t grams = 0;
  for (const auto& id : ids) {
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    MT_TRY(CheckHeldBySigner(*lot, "ship"));
    MT_TRY(CheckLotTime(*lot));
    if (s.mineral() == v1::MINERAL_UNSPECIFIED) {
      s.set_mineral(lot->mineral());
    } else if (lot->mineral() != s.mineral()) {
      return tl::unexpected(
          Refuse(ErrorCode::kFailedPrecondition,
                 "lot '" + id + "' is " + MineralName(lot->mineral()) + " but lot '" + ids.front() +
                     "' is " + MineralName(s.mineral()) + "; a shipment is of one mineral"));
    }
    grams += lot->weight_grams();
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_IN_SHIPMENT);
    next.set_shipment_id(a.shipment_id());
    TouchLot(*lot, std::move(next));
  }
  *s.mutable_lot_ids() = a.lot_ids();
  s.set_weight_grams(grams);
  s.set_destination_country(a.destination_country());
  s.set_status(v1::SHIPMENT_STATUS_FORMED);
  s.set_formed_at_ms(ctx_.block_time_ms);
  s.set_formed_height(ctx_.height);
  s.set_note(a.note());
  view_.PutShipment(std::nullopt, s);
  return {};
}

Result<void> Execution::CheckNoOpenLevelOneIncident(v1::IncidentSubjectKind kind,
                                                    const std::string& subject_id,
                                                    const std::string& what) {
  auto open = view_.GetOpenLevelOneIncidents(kind, subject_id);
  if (!open) return tl::unexpected(open.error());
  if (open->empty()) return {};
  return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                               what + " has an open level-1 incident (" + JoinNames(*open) +
                                   "); nothing derived from it is exported until the incident "
                                   "is resolved"));
}

Result<void> Execution::CheckExport(const v1::Shipment& shipment) {
  const std::string prefix = "shipment '" + shipment.shipment_id() + "': ";
  auto exporter = view_.GetMember(shipment.exporter_key());
  if (!exporter) return tl::unexpected(exporter.error());
  MT_ASSERT(exporter->has_value());  // a shipment is formed by a registered exporter
  const v1::Member& ex = **exporter;
  if (ex.status() != v1::MEMBER_STATUS_ACTIVE) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 prefix + "exporter '" + ex.name() + "' is suspended (" +
                                     ex.status_reason() + "); its shipments are not certified"));
  }
  if (ex.audit_flag() == v1::AUDIT_FLAG_RED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 prefix + "exporter '" + ex.name() + "' has a red audit flag (" +
                                     ex.audit_flag_reason() +
                                     "); no export is certified or dispatched until a "
                                     "regulator changes it"));
  }
  MT_TRY(CheckNoOpenLevelOneIncident(v1::INCIDENT_SUBJECT_MEMBER, ShortKey(ex.key()),
                                     prefix + "exporter '" + ex.name() + "'"));

  // Walk upstream from every lot of the shipment, each lot once, in a fixed order.
  std::deque<std::string> queue;
  std::map<std::string, std::string> reached_from;  // upstream lot -> the shipment lot
  for (const auto& id : shipment.lot_ids()) {
    if (reached_from.emplace(id, id).second) queue.push_back(id);
  }
  std::set<std::string> sites;
  std::map<std::string, std::string> site_reached_by;  // site -> a mine lot of it
  while (!queue.empty()) {
    std::string id = std::move(queue.front());
    queue.pop_front();
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    const std::string& top = reached_from.at(id);
    const std::string where =
        id == top ? "lot '" + id + "'" : "lot '" + id + "' (upstream of lot '" + top + "')";
    MT_TRY(CheckNoOpenLevelOneIncident(v1::INCIDENT_SUBJECT_LOT, id, prefix + where));
    if (!lot->tag_id().empty()) {
      MT_TRY(CheckNoOpenLevelOneIncident(v1::INCIDENT_SUBJECT_TAG, lot->tag_id(),
                                         prefix + "tag " + lot->tag_id() + " of " + where));
    }
    if (!lot->site_id().empty() && sites.insert(lot->site_id()).second) {
      site_reached_by.emplace(lot->site_id(), where);
    }
    for (const auto& parent : lot->parent_lot_ids()) {
      if (reached_from.emplace(parent, top).second) {
        if (reached_from.size() > kMaxUpstreamLots) {
          return tl::unexpected(
              Refuse(ErrorCode::kFailedPrecondition,
                     prefix + "more than " + std::to_string(kMaxUpstreamLots) +
                         " lots upstream: too large to check in one transaction; form smaller "
                         "shipments"));
        }
        queue.push_back(parent);
      }
    }
  }
  for (const auto& site_id : sites) {
    auto site = LoadSite(site_id);
    if (!site) return tl::unexpected(site.error());
    const std::string where =
        "mine site '" + site_id + "' (origin of " + site_reached_by.at(site_id) + ")";
    if (EffectiveSiteStatus(*site, ctx_.block_time_ms) == v1::SITE_STATUS_RED) {
      return tl::unexpected(
          Refuse(ErrorCode::kFailedPrecondition,
                 prefix + where + " is red; nothing from a red site is exported"));
    }
    MT_TRY(CheckNoOpenLevelOneIncident(v1::INCIDENT_SUBJECT_SITE, site_id, prefix + where));
  }
  return {};
}

Result<void> Execution::ReviewShipment(const v1::ReviewShipment& a) {
  auto signer = RequireSigner({v1::ROLE_CERTIFIER}, "review export shipments");
  if (!signer) return tl::unexpected(signer.error());
  auto shipment = LoadShipment(a.shipment_id());
  if (!shipment) return tl::unexpected(shipment.error());
  v1::Shipment s = *shipment;
  if (s.exporter_key() == signer_) {
    return tl::unexpected(
        Refuse(ErrorCode::kPermissionDenied,
               "a certifier may not review its own shipment '" + s.shipment_id() + "'"));
  }
  if (s.status() != v1::SHIPMENT_STATUS_FORMED &&
      s.status() != v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "shipment '" + s.shipment_id() + "' is " +
                                     ShipmentStatusName(s.status()) +
                                     "; only a formed or refused shipment is reviewed"));
  }
  if (a.issue()) {
    if (!IsIdentifier(a.certificate_number(), 64)) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "certificate number must be 1 to 64 letters, digits, '-', "
                                   "'_' or '.'"));
    }
    if (a.certificate_date_ms() <= 0 ||
        a.certificate_date_ms() > ctx_.block_time_ms + kMaxDeviceClockAheadMs) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "certificate date must be set and not after the block"));
    }
    std::string number_key = keys::CertificateNumber(a.certificate_number());
    auto used = view_.Get(Column::kState, number_key);
    if (!used) return tl::unexpected(used.error());
    if (used->has_value()) {
      return tl::unexpected(Refuse(ErrorCode::kAlreadyExists,
                                   "certificate number " + a.certificate_number() +
                                       " was already issued for shipment '" + **used + "'"));
    }
    MT_TRY(CheckExport(s));
    view_.Put(Column::kState, std::move(number_key), s.shipment_id());
    s.set_status(v1::SHIPMENT_STATUS_CERTIFIED);
    v1::Certificate* c = s.mutable_certificate();
    c->set_number(a.certificate_number());
    c->set_date_ms(a.certificate_date_ms());
    c->set_certifier_key(signer_);
    c->set_height(ctx_.height);
    s.clear_refusal_reason();
  } else {
    MT_TRY(CheckText(a.reason(), "reason for refusing the certificate", 1, kMaxReasonChars));
    s.set_status(v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED);
    s.set_refusal_reason(a.reason());
  }
  s.set_reviewed_by(signer_);
  // The review belongs in each lot's history: a link per lot, no other change.
  MT_TRY(TouchShipmentLots(s, [](v1::Lot&) {}));
  view_.PutShipment(*shipment, s);
  return {};
}

Result<void> Execution::DispatchShipment(const v1::DispatchShipment& a) {
  auto signer = RequireSigner({v1::ROLE_EXPORTER}, "dispatch export shipments");
  if (!signer) return tl::unexpected(signer.error());
  auto shipment = LoadShipment(a.shipment_id());
  if (!shipment) return tl::unexpected(shipment.error());
  v1::Shipment s = *shipment;
  if (s.exporter_key() != signer_) {
    return tl::unexpected(
        Refuse(ErrorCode::kPermissionDenied, "shipment '" + s.shipment_id() +
                                                 "' belongs to another exporter; only its exporter "
                                                 "dispatches it"));
  }
  if (s.status() != v1::SHIPMENT_STATUS_CERTIFIED) {
    std::string why = s.status() == v1::SHIPMENT_STATUS_FORMED
                          ? "has no ICGLR certificate yet; a certifier must issue it first"
                      : s.status() == v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED
                          ? "had its certificate refused (" + s.refusal_reason() +
                                "); it leaves only with a certificate"
                          : "is " + ShipmentStatusName(s.status()) +
                                "; only a certified "
                                "shipment is dispatched";
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, "shipment '" + s.shipment_id() + "' " + why));
  }
  auto smelter = RequireCounterpart(a.smelter_key(), {v1::ROLE_SMELTER}, "smelter");
  if (!smelter) return tl::unexpected(smelter.error());
  // Again: an incident opened or a site turned red after certification stops the shipment.
  MT_TRY(CheckExport(s));
  MT_TRY(TouchShipmentLots(s, [&](v1::Lot& lot) {
    lot.set_status(v1::LOT_STATUS_EXPORTED);
    lot.clear_holder_key();
    lot.set_dispatched_by(signer_);
    lot.set_dispatched_to(a.smelter_key());
    lot.set_dispatched_weight_grams(lot.weight_grams());
  }));
  s.set_status(v1::SHIPMENT_STATUS_DISPATCHED);
  s.set_smelter_key(a.smelter_key());
  s.set_dispatched_at_ms(ctx_.block_time_ms);
  view_.PutShipment(*shipment, s);
  return ChangeBalance(signer_, [&](v1::MassBalance& b) {
    b.set_exported_grams(b.exported_grams() + s.weight_grams());
  });
}

Result<void> Execution::ReceiveShipment(const v1::ReceiveShipment& a) {
  auto signer = RequireSigner({v1::ROLE_SMELTER}, "receive export shipments");
  if (!signer) return tl::unexpected(signer.error());
  if (a.weight_grams() == 0 || a.weight_grams() > kMaxShipmentWeightGrams) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "received weight must be more than 0 and at most 100,000 t"));
  }
  auto shipment = LoadShipment(a.shipment_id());
  if (!shipment) return tl::unexpected(shipment.error());
  v1::Shipment s = *shipment;
  if (s.status() != v1::SHIPMENT_STATUS_DISPATCHED) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, "shipment '" + s.shipment_id() + "' is " +
                                                   ShipmentStatusName(s.status()) +
                                                   "; only a dispatched shipment is received"));
  }
  if (s.smelter_key() != signer_) {
    return tl::unexpected(Refuse(ErrorCode::kPermissionDenied,
                                 "shipment '" + s.shipment_id() +
                                     "' was dispatched to another smelter; only the named "
                                     "smelter receives it"));
  }
  // Weights <= 1e11 g: the products stay below 2^64.
  uint64_t sent = s.weight_grams();
  uint64_t diff = sent > a.weight_grams() ? sent - a.weight_grams() : a.weight_grams() - sent;
  if (diff * 10000 > sent * kReceiptWeightToleranceBasisPoints) {
    v1::Anomaly an;
    an.set_kind("receipt_weight_mismatch");
    an.set_shipment_id(s.shipment_id());
    an.set_member_key(signer_);
    an.set_detail("shipment '" + s.shipment_id() + "' dispatched at " + GramsText(sent) +
                  ", received at " + GramsText(a.weight_grams()));
    RaiseAnomaly(std::move(an));
  }
  MT_TRY(TouchShipmentLots(s, [&](v1::Lot& lot) {
    lot.set_status(v1::LOT_STATUS_DELIVERED);
    lot.set_holder_key(signer_);
    lot.clear_dispatched_by();
    lot.clear_dispatched_to();
    lot.clear_dispatched_weight_grams();
  }));
  s.set_status(v1::SHIPMENT_STATUS_RECEIVED);
  s.set_received_weight_grams(a.weight_grams());
  s.set_received_at_ms(ctx_.block_time_ms);
  view_.PutShipment(*shipment, s);
  return ChangeBalance(signer_, [&](v1::MassBalance& b) {
    b.set_smelter_received_grams(b.smelter_received_grams() + a.weight_grams());
  });
}

Result<void> Execution::CancelShipment(const v1::CancelShipment& a) {
  auto signer = RequireSigner({v1::ROLE_EXPORTER}, "cancel export shipments");
  if (!signer) return tl::unexpected(signer.error());
  auto shipment = LoadShipment(a.shipment_id());
  if (!shipment) return tl::unexpected(shipment.error());
  v1::Shipment s = *shipment;
  if (s.exporter_key() != signer_) {
    return tl::unexpected(
        Refuse(ErrorCode::kPermissionDenied, "shipment '" + s.shipment_id() +
                                                 "' belongs to another exporter; only its exporter "
                                                 "cancels it"));
  }
  if (s.status() != v1::SHIPMENT_STATUS_FORMED && s.status() != v1::SHIPMENT_STATUS_CERTIFIED &&
      s.status() != v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "shipment '" + s.shipment_id() + "' is " +
                                     ShipmentStatusName(s.status()) +
                                     "; only a shipment not yet dispatched is cancelled"));
  }
  MT_TRY(CheckText(a.reason(), "reason", 1, kMaxReasonChars));
  MT_TRY(TouchShipmentLots(s, [](v1::Lot& lot) {
    lot.set_status(v1::LOT_STATUS_HELD);
    lot.clear_shipment_id();
  }));
  // Its certificate number, if any, stays used: a number is issued once.
  s.set_status(v1::SHIPMENT_STATUS_CANCELLED);
  view_.PutShipment(*shipment, s);
  return {};
}

}  // namespace minetrace::ledger::detail
