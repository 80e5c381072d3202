#include "tx_build.h"

#include <array>
#include <fstream>

#include "minetrace/base/bytes.h"
#include "minetrace/crypto/sha256.h"
#include "parse.h"

namespace minetrace::cli {
namespace {

constexpr std::array<TxActionInfo, 23> kActions = {{
    {TxAction::kRegisterMember, "register-member", "Administrator: admit a member with its roles"},
    {TxAction::kSuspendMember, "suspend-member",
     "Administrator: suspend a member (a sanction); it can no longer act"},
    {TxAction::kReinstateMember, "reinstate-member", "Administrator: lift a suspension"},
    {TxAction::kRegisterSite, "register-site",
     "Administrator or regulator: register an inspected mine site"},
    {TxAction::kAllocateTags, "allocate-tags",
     "Administrator: allocate a range of single-use tags to an agent for one site, or "
     "(--kind processor) to a processor"},
    {TxAction::kRecordLot, "record-lot",
     "Agent: record a weighed, tagged mine lot (the lot id is the tag id)"},
    {TxAction::kDispatch, "dispatch",
     "Holder: send lots to a named receiver; they are in transit until received"},
    {TxAction::kReceive, "receive", "Receiver: accept lots in transit to you, with their weights"},
    {TxAction::kCancelDispatch, "cancel-dispatch",
     "Sender: take back lots in transit that were not yet received"},
    {TxAction::kRecordInspection, "record-inspection",
     "Regulator: record an inspection of a mine site; its result becomes the site's status"},
    {TxAction::kSetSiteStatus, "set-site-status",
     "Regulator: set a site's status (green, yellow, red) without an inspection"},
    {TxAction::kReportTags, "report-tags",
     "Tag holder or administrator: report unused tags lost or void"},
    {TxAction::kWithdrawTags, "withdraw-tags",
     "Administrator or regulator: withdraw a site's unused tags (a sanction)"},
    {TxAction::kRestoreTags, "restore-tags",
     "Administrator or regulator: lift a site's tag withdrawal (withdrawn tags stay unusable)"},
    {TxAction::kProcess, "process",
     "Processor: merge lots it holds into new lots, or split one lot, with processor tags"},
    {TxAction::kFormShipment, "form-shipment",
     "Exporter: form an export shipment from lots it holds (one mineral)"},
    {TxAction::kReviewShipment, "review-shipment",
     "Certifier: issue (--issue) or refuse (--refuse) a shipment's ICGLR certificate"},
    {TxAction::kDispatchShipment, "dispatch-shipment",
     "Exporter: dispatch a certified shipment to a smelter"},
    {TxAction::kReceiveShipment, "receive-shipment",
     "Smelter: confirm receipt of a shipment with the weight found"},
    {TxAction::kCancelShipment, "cancel-shipment",
     "Exporter: dissolve a shipment not yet dispatched; its lots are held again"},
    {TxAction::kReportIncident, "report-incident",
     "Any member: report an incident against a site, lot, member or tag"},
    {TxAction::kUpdateIncident, "update-incident",
     "Move an incident along (regulator), reclassify it (regulator) or add a note (any member)"},
    {TxAction::kSetAuditFlag, "set-audit-flag",
     "Regulator: set an exporter's audit flag (green, yellow, red)"},
}};

Result<void> Require(bool given, std::string_view flag) {
  if (given) return {};
  return MakeError(ErrorCode::kInvalidArgument, std::string(flag) + " is required");
}

Result<std::string> KeyBytes(std::string_view arg, std::string_view flag) {
  MT_TRY(Require(!arg.empty(), flag));
  auto key = ParseKeyArgument(arg, flag);
  if (!key) return tl::unexpected(key.error());
  return std::string(key->begin(), key->end());
}

Result<void> BuildRegisterMember(const TxArgs& a, v1::RegisterMember& out) {
  auto key = KeyBytes(a.member, "--member");
  if (!key) return tl::unexpected(key.error());
  MT_TRY(Require(!a.name.empty(), "--name"));
  MT_TRY(Require(!a.roles.empty(), "--role"));
  out.set_member_key(*key);
  out.set_name(a.name);
  for (const std::string& r : a.roles) {
    auto role = ParseRole(r);
    if (!role) return MakeError(ErrorCode::kInvalidArgument, "--role: " + role.error().message);
    out.add_roles(*role);
  }
  out.set_country(a.country);
  return {};
}

Result<void> BuildRegisterSite(const TxArgs& a, v1::RegisterMineSite& out) {
  MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  MT_TRY(Require(!a.name.empty(), "--name"));
  MT_TRY(Require(!a.country.empty(), "--country"));
  MT_TRY(Require(!a.minerals.empty(), "--mineral"));
  MT_TRY(Require(!a.site_status.empty(), "--status"));
  out.set_site_id(a.site_id);
  out.set_name(a.name);
  out.set_country(a.country);
  // A position is both coordinates or none: half a position would put the site on the
  // equator or the prime meridian without anyone noticing.
  if (a.latitude.empty() != a.longitude.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--lat and --lon go together");
  }
  if (!a.latitude.empty()) {
    auto lat = ParseMicrodegrees(a.latitude, 90, "--lat");
    if (!lat) return tl::unexpected(lat.error());
    auto lon = ParseMicrodegrees(a.longitude, 180, "--lon");
    if (!lon) return tl::unexpected(lon.error());
    out.set_latitude_microdeg(*lat);
    out.set_longitude_microdeg(*lon);
  }
  for (const std::string& m : a.minerals) {
    auto mineral = ParseMineral(m);
    if (!mineral) {
      return MakeError(ErrorCode::kInvalidArgument, "--mineral: " + mineral.error().message);
    }
    out.add_minerals(*mineral);
  }
  auto status = ParseSiteStatus(a.site_status);
  if (!status) return MakeError(ErrorCode::kInvalidArgument, "--status: " + status.error().message);
  out.set_status(*status);
  out.set_production_estimate_kg_per_month(a.estimate_kg_per_month);
  return {};
}

Result<void> BuildAllocateTags(const TxArgs& a, v1::AllocateTags& out) {
  v1::TagKind kind = v1::TAG_KIND_MINE;
  if (!a.tag_kind.empty()) {
    auto parsed = ParseTagKind(a.tag_kind);
    if (!parsed) return MakeError(ErrorCode::kInvalidArgument, "--kind: " + parsed.error().message);
    kind = *parsed;
  }
  if (kind == v1::TAG_KIND_MINE) {
    MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  } else if (!a.site_id.empty()) {
    // Processor tags mark lots made from many sites; a site here would be a mistake.
    return MakeError(ErrorCode::kInvalidArgument,
                     "--site-id is for mine tags; processor tags (--kind processor) have no site");
  }
  auto agent = KeyBytes(a.agent, "--agent");
  if (!agent) return tl::unexpected(agent.error());
  MT_TRY(Require(!a.prefix.empty(), "--prefix"));
  if (a.count == 0 || a.count > 10000) {
    return MakeError(ErrorCode::kInvalidArgument, "--count must be between 1 and 10000");
  }
  out.set_site_id(a.site_id);
  out.set_agent_key(*agent);
  out.set_prefix(a.prefix);
  out.set_first(a.first);
  out.set_count(a.count);
  out.set_kind(kind);
  return {};
}

Result<void> BuildRecordLot(const TxArgs& a, v1::RecordMineLot& out) {
  MT_TRY(Require(!a.tag.empty(), "--tag"));
  MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  MT_TRY(Require(!a.mineral.empty(), "--mineral"));
  auto mineral = ParseMineral(a.mineral);
  if (!mineral) {
    return MakeError(ErrorCode::kInvalidArgument, "--mineral: " + mineral.error().message);
  }
  MT_TRY(Require(!a.weight_kg.empty(), "--weight-kg"));
  auto grams = ParseWeightGrams(a.weight_kg, "--weight-kg");
  if (!grams) return tl::unexpected(grams.error());
  MT_TRY(Require(!a.grade_percent.empty(), "--grade-percent"));
  auto grade = ParseGradeBasisPoints(a.grade_percent, "--grade-percent");
  if (!grade) return tl::unexpected(grade.error());
  auto producer = KeyBytes(a.producer, "--producer");
  if (!producer) return tl::unexpected(producer.error());
  out.set_tag_id(a.tag);
  out.set_site_id(a.site_id);
  out.set_mineral(*mineral);
  out.set_weight_grams(*grams);
  out.set_grade_basis_points(*grade);
  out.set_producer_key(*producer);
  return {};
}

Result<void> RequireLotIds(const std::vector<std::string>& lots) {
  MT_TRY(Require(!lots.empty(), "--lot"));
  for (const std::string& id : lots) {
    if (id.empty()) return MakeError(ErrorCode::kInvalidArgument, "--lot: empty lot id");
  }
  return {};
}


tl::unexpected<Error> FlagError(std::string_view flag, const Error& error) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(flag) + ": " + error.message);
}

// The statuses a regulator may set; blue and the red lapse are derived from time.
Result<v1::SiteStatus> SettableSiteStatus(const std::string& name, std::string_view flag) {
  MT_TRY(Require(!name.empty(), flag));
  auto status = ParseSiteStatus(name);
  if (!status) return FlagError(flag, status.error());
  if (*status == v1::SITE_STATUS_BLUE) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(flag) +
                         ": blue is derived from time (no inspection for a year) and cannot be "
                         "set; use green, yellow or red");
  }
  return status;
}

Result<std::string> ReportHash(const TxArgs& a) {
  if (a.report_hash.empty() == a.report_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "give exactly one of --report-hash (SHA-256 in hex) and --report (the "
                     "report file, hashed here)");
  }
  if (!a.report_hash.empty()) {
    auto hash = ParseHashArgument(a.report_hash, "--report-hash");
    if (!hash) return tl::unexpected(hash.error());
    return std::string(hash->begin(), hash->end());
  }
  std::ifstream in(a.report_file, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "--report: cannot read " + a.report_file);
  crypto::Sha256Hasher hasher;
  std::array<char, 1 << 16> chunk{};
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hasher.Update(std::string_view(chunk.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return MakeError(ErrorCode::kInternal, "--report: error reading " + a.report_file);
  const Hash32 hash = hasher.Finish();
  return std::string(hash.begin(), hash.end());
}

Result<void> BuildRecordInspection(const TxArgs& a, v1::RecordInspection& out) {
  MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  MT_TRY(Require(!a.date.empty(), "--date"));
  auto at = ParseUtcTimeMs(a.date, "--date");
  if (!at) return tl::unexpected(at.error());
  auto result = SettableSiteStatus(a.result, "--result");
  if (!result) return tl::unexpected(result.error());
  MT_TRY(Require(!a.inspector.empty(), "--inspector"));
  auto hash = ReportHash(a);
  if (!hash) return tl::unexpected(hash.error());
  out.set_site_id(a.site_id);
  out.set_inspected_at_ms(*at);
  out.set_result(*result);
  out.set_inspector(a.inspector);
  out.set_report_hash(*hash);
  out.set_summary(a.summary);
  return {};
}

Result<void> BuildReportTags(const TxArgs& a, v1::ReportTags& out) {
  MT_TRY(Require(!a.tags.empty(), "--tag"));
  MT_TRY(Require(!a.tag_status.empty(), "--status"));
  auto status = ParseTagStatus(a.tag_status);
  if (!status) return FlagError("--status", status.error());
  if (*status != v1::TAG_STATUS_LOST && *status != v1::TAG_STATUS_VOID) {
    return MakeError(ErrorCode::kInvalidArgument, "--status: tags are reported lost or void");
  }
  MT_TRY(Require(!a.reason.empty(), "--reason"));
  for (const std::string& id : a.tags) {
    if (id.empty()) return MakeError(ErrorCode::kInvalidArgument, "--tag: empty tag id");
    out.add_tag_ids(id);
  }
  out.set_status(*status);
  out.set_reason(a.reason);
  return {};
}

Result<void> BuildProcess(const TxArgs& a, v1::ProcessLots& out) {
  MT_TRY(Require(!a.processing_kind.empty(), "--kind"));
  auto kind = ParseProcessingKind(a.processing_kind);
  if (!kind) return FlagError("--kind", kind.error());
  MT_TRY(Require(!a.inputs.empty(), "--input"));
  MT_TRY(Require(!a.outputs.empty(), "--output"));
  if (*kind == v1::PROCESSING_KIND_SPLIT && a.inputs.size() != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "--input: a split has exactly one input lot");
  }
  if (*kind == v1::PROCESSING_KIND_SPLIT && a.outputs.size() < 2) {
    return MakeError(ErrorCode::kInvalidArgument, "--output: a split makes at least two lots");
  }
  out.set_kind(*kind);
  for (const std::string& id : a.inputs) {
    if (id.empty()) return MakeError(ErrorCode::kInvalidArgument, "--input: empty lot id");
    out.add_input_lot_ids(id);
  }
  for (const std::string& arg : a.outputs) {
    auto output = ParseProcessedOutput(arg);
    if (!output) return tl::unexpected(output.error());
    *out.add_outputs() = *output;
  }
  out.set_note(a.note);
  return {};
}

Result<void> BuildReviewShipment(const TxArgs& a, v1::ReviewShipment& out) {
  MT_TRY(Require(!a.shipment_id.empty(), "--shipment-id"));
  if (a.issue == a.refuse) {
    return MakeError(ErrorCode::kInvalidArgument, "give exactly one of --issue and --refuse");
  }
  out.set_shipment_id(a.shipment_id);
  out.set_issue(a.issue);
  if (a.issue) {
    MT_TRY(Require(!a.certificate.empty(), "--certificate"));
    MT_TRY(Require(!a.date.empty(), "--date"));
    auto date = ParseUtcTimeMs(a.date, "--date");
    if (!date) return tl::unexpected(date.error());
    if (!a.reason.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "--reason is for --refuse");
    }
    out.set_certificate_number(a.certificate);
    out.set_certificate_date_ms(*date);
    return {};
  }
  if (!a.certificate.empty() || !a.date.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--certificate and --date are for --issue");
  }
  MT_TRY(Require(!a.reason.empty(), "--reason"));
  out.set_reason(a.reason);
  return {};
}

// A member subject is named by its key anywhere a key is accepted; the ledger's subject id
// is the lowercase hex of the key.
Result<std::string> SubjectId(v1::IncidentSubjectKind kind, const std::string& id) {
  MT_TRY(Require(!id.empty(), "--subject-id"));
  if (kind != v1::INCIDENT_SUBJECT_MEMBER) return id;
  auto key = ParseKeyArgument(id, "--subject-id");
  if (!key) return tl::unexpected(key.error());
  return ToHex(*key);
}

Result<void> BuildReportIncident(const TxArgs& a, v1::ReportIncident& out) {
  MT_TRY(Require(!a.subject.empty(), "--subject"));
  auto kind = ParseIncidentSubjectKind(a.subject);
  if (!kind) return FlagError("--subject", kind.error());
  auto id = SubjectId(*kind, a.subject_id);
  if (!id) return tl::unexpected(id.error());
  MT_TRY(Require(!a.category.empty(), "--category"));
  auto category = ParseIncidentCategory(a.category);
  if (!category) return FlagError("--category", category.error());
  if (a.level < 1 || a.level > 3) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--level is required: 1 (serious, blocks exports while open), 2 or 3");
  }
  MT_TRY(Require(!a.description.empty(), "--description"));
  out.set_subject_kind(*kind);
  out.set_subject_id(*id);
  out.set_category(*category);
  out.set_level(a.level);
  out.set_description(a.description);
  if (!a.occurred_at.empty()) {
    auto at = ParseUtcTimeMs(a.occurred_at, "--occurred-at");
    if (!at) return tl::unexpected(at.error());
    out.set_occurred_at_ms(*at);
  }
  if (!a.source.empty()) {
    auto source = ParseIncidentSource(a.source);
    if (!source) return FlagError("--source", source.error());
    out.set_source(*source);
  }
  out.set_flag_id(a.flag_id);
  return {};
}

Result<void> BuildUpdateIncident(const TxArgs& a, v1::UpdateIncident& out) {
  MT_TRY(Require(!a.incident_id.empty(), "--incident"));
  out.set_incident_id(a.incident_id);
  if (!a.incident_status.empty()) {
    auto status = ParseIncidentStatus(a.incident_status);
    if (!status) return FlagError("--status", status.error());
    out.set_status(*status);
  }
  if (a.level > 3) return MakeError(ErrorCode::kInvalidArgument, "--level is 1, 2 or 3");
  out.set_level(a.level);
  if (!a.category.empty()) {
    auto category = ParseIncidentCategory(a.category);
    if (!category) return FlagError("--category", category.error());
    out.set_category(*category);
  }
  if (!a.outcome.empty()) {
    auto outcome = ParseIncidentOutcome(a.outcome);
    if (!outcome) return FlagError("--outcome", outcome.error());
    out.set_outcome(*outcome);
  }
  // The ledger enforces the lifecycle; these two catch the commonest slips before signing.
  if (out.status() == v1::INCIDENT_STATUS_RESOLVED && out.outcome() == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--outcome is required with --status resolved (one of: " +
                         IncidentOutcomeNames() + ")");
  }
  if (out.outcome() != 0 && out.status() != v1::INCIDENT_STATUS_RESOLVED) {
    return MakeError(ErrorCode::kInvalidArgument, "--outcome goes with --status resolved");
  }
  out.set_note(a.note);
  if (out.status() == 0 && out.level() == 0 && out.category() == 0 && a.note.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "nothing to change: give --status, --level, --category or --note");
  }
  return {};
}

}  // namespace

std::span<const TxActionInfo> AllTxActions() { return kActions; }

Result<v1::TxBody> BuildTxAction(TxAction action, const TxArgs& a) {
  v1::TxBody body;
  switch (action) {
    case TxAction::kRegisterMember:
      MT_TRY(BuildRegisterMember(a, *body.mutable_register_member()));
      break;
    case TxAction::kSuspendMember: {
      auto key = KeyBytes(a.member, "--member");
      if (!key) return tl::unexpected(key.error());
      // A sanction without a stated reason cannot be reviewed later.
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      body.mutable_suspend_member()->set_member_key(*key);
      body.mutable_suspend_member()->set_reason(a.reason);
      break;
    }
    case TxAction::kReinstateMember: {
      auto key = KeyBytes(a.member, "--member");
      if (!key) return tl::unexpected(key.error());
      body.mutable_reinstate_member()->set_member_key(*key);
      body.mutable_reinstate_member()->set_reason(a.reason);
      break;
    }
    case TxAction::kRegisterSite:
      MT_TRY(BuildRegisterSite(a, *body.mutable_register_mine_site()));
      break;
    case TxAction::kAllocateTags:
      MT_TRY(BuildAllocateTags(a, *body.mutable_allocate_tags()));
      break;
    case TxAction::kRecordLot:
      MT_TRY(BuildRecordLot(a, *body.mutable_record_mine_lot()));
      break;
    case TxAction::kDispatch: {
      MT_TRY(RequireLotIds(a.lots));
      auto to = KeyBytes(a.to, "--to");
      if (!to) return tl::unexpected(to.error());
      v1::DispatchLots& d = *body.mutable_dispatch_lots();
      for (const std::string& id : a.lots) d.add_lot_ids(id);
      d.set_receiver_key(*to);
      d.set_delivery_note(a.note);
      break;
    }
    case TxAction::kReceive: {
      MT_TRY(Require(!a.lots.empty(), "--lot"));
      v1::ReceiveLots& r = *body.mutable_receive_lots();
      for (const std::string& arg : a.lots) {
        auto lot = ParseReceivedLot(arg);
        if (!lot) return tl::unexpected(lot.error());
        *r.add_lots() = *lot;
      }
      break;
    }
    case TxAction::kCancelDispatch: {
      MT_TRY(RequireLotIds(a.lots));
      v1::CancelDispatch& c = *body.mutable_cancel_dispatch();
      for (const std::string& id : a.lots) c.add_lot_ids(id);
      c.set_reason(a.reason);
      break;
    }
    case TxAction::kRecordInspection:
      MT_TRY(BuildRecordInspection(a, *body.mutable_record_inspection()));
      break;
    case TxAction::kSetSiteStatus: {
      MT_TRY(Require(!a.site_id.empty(), "--site-id"));
      auto status = SettableSiteStatus(a.site_status, "--status");
      if (!status) return tl::unexpected(status.error());
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      v1::SetSiteStatus& s = *body.mutable_set_site_status();
      s.set_site_id(a.site_id);
      s.set_status(*status);
      s.set_reason(a.reason);
      break;
    }
    case TxAction::kReportTags:
      MT_TRY(BuildReportTags(a, *body.mutable_report_tags()));
      break;
    case TxAction::kWithdrawTags:
      MT_TRY(Require(!a.site_id.empty(), "--site-id"));
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      body.mutable_withdraw_site_tags()->set_site_id(a.site_id);
      body.mutable_withdraw_site_tags()->set_reason(a.reason);
      break;
    case TxAction::kRestoreTags:
      MT_TRY(Require(!a.site_id.empty(), "--site-id"));
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      body.mutable_restore_site_tags()->set_site_id(a.site_id);
      body.mutable_restore_site_tags()->set_reason(a.reason);
      break;
    case TxAction::kProcess:
      MT_TRY(BuildProcess(a, *body.mutable_process_lots()));
      break;
    case TxAction::kFormShipment: {
      MT_TRY(Require(!a.shipment_id.empty(), "--shipment-id"));
      MT_TRY(RequireLotIds(a.lots));
      MT_TRY(Require(!a.destination.empty(), "--destination"));
      v1::FormShipment& f = *body.mutable_form_shipment();
      f.set_shipment_id(a.shipment_id);
      for (const std::string& id : a.lots) f.add_lot_ids(id);
      f.set_destination_country(a.destination);
      f.set_note(a.note);
      break;
    }
    case TxAction::kReviewShipment:
      MT_TRY(BuildReviewShipment(a, *body.mutable_review_shipment()));
      break;
    case TxAction::kDispatchShipment: {
      MT_TRY(Require(!a.shipment_id.empty(), "--shipment-id"));
      auto smelter = KeyBytes(a.smelter, "--smelter");
      if (!smelter) return tl::unexpected(smelter.error());
      body.mutable_dispatch_shipment()->set_shipment_id(a.shipment_id);
      body.mutable_dispatch_shipment()->set_smelter_key(*smelter);
      break;
    }
    case TxAction::kReceiveShipment: {
      MT_TRY(Require(!a.shipment_id.empty(), "--shipment-id"));
      MT_TRY(Require(!a.weight_kg.empty(), "--weight-kg"));
      auto grams = ParseWeightGrams(a.weight_kg, "--weight-kg");
      if (!grams) return tl::unexpected(grams.error());
      body.mutable_receive_shipment()->set_shipment_id(a.shipment_id);
      body.mutable_receive_shipment()->set_weight_grams(*grams);
      break;
    }
    case TxAction::kCancelShipment:
      MT_TRY(Require(!a.shipment_id.empty(), "--shipment-id"));
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      body.mutable_cancel_shipment()->set_shipment_id(a.shipment_id);
      body.mutable_cancel_shipment()->set_reason(a.reason);
      break;
    case TxAction::kReportIncident:
      MT_TRY(BuildReportIncident(a, *body.mutable_report_incident()));
      break;
    case TxAction::kUpdateIncident:
      MT_TRY(BuildUpdateIncident(a, *body.mutable_update_incident()));
      break;
    case TxAction::kSetAuditFlag: {
      auto key = KeyBytes(a.member, "--member");
      if (!key) return tl::unexpected(key.error());
      MT_TRY(Require(!a.audit_flag.empty(), "--flag"));
      auto flag = ParseAuditFlag(a.audit_flag);
      if (!flag) return FlagError("--flag", flag.error());
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      v1::SetAuditFlag& f = *body.mutable_set_audit_flag();
      f.set_member_key(*key);
      f.set_flag(*flag);
      f.set_reason(a.reason);
      break;
    }
  }
  return body;
}

}  // namespace minetrace::cli
