// Oversight: inspections and site status (rule 3), withdrawal of a site's tags (a sanction),
// incidents and their lifecycle, exporter audit flags.
#include <cstdio>

#include "execution.h"

namespace minetrace::ledger::detail {
namespace {

bool IsRecordableSiteStatus(v1::SiteStatus s) {
  // Blue, and red by lapse, are derived from time (EffectiveSiteStatus), never recorded.
  return s == v1::SITE_STATUS_GREEN || s == v1::SITE_STATUS_YELLOW || s == v1::SITE_STATUS_RED;
}

bool IsLowerHexKey(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<void> Execution::RecordInspection(const v1::RecordInspection& a) {
  auto signer = RequireSigner({v1::ROLE_REGULATOR}, "record inspections");
  if (!signer) return tl::unexpected(signer.error());
  if (!IsRecordableSiteStatus(a.result())) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "an inspection's result is green, yellow or red"));
  }
  if (a.inspected_at_ms() <= 0) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "inspected_at_ms (the inspection date) must be set"));
  }
  if (a.inspected_at_ms() > ctx_.block_time_ms + kMaxDeviceClockAheadMs) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "the inspection date is after the block: an inspection is "
                                 "recorded once it took place"));
  }
  MT_TRY(CheckText(a.inspector(), "inspector", 1, 200));
  if (a.report_hash().size() != 32) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "report_hash must be the 32-byte SHA-256 of the inspection "
                                 "report"));
  }
  MT_TRY(CheckText(a.summary(), "summary", 0, kMaxReasonChars));
  auto site = LoadSite(a.site_id());
  if (!site) return tl::unexpected(site.error());
  v1::MineSite s = *site;
  if (a.inspected_at_ms() < s.last_inspection_ms()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "the inspection date " + std::to_string(a.inspected_at_ms()) +
                                     " is before the last inspection of site '" + s.site_id() +
                                     "' at " + std::to_string(s.last_inspection_ms())));
  }
  v1::Inspection in;
  in.set_site_id(s.site_id());
  in.set_sequence(s.inspection_count() + 1);
  in.set_inspected_at_ms(a.inspected_at_ms());
  in.set_result(a.result());
  in.set_inspector(a.inspector());
  in.set_report_hash(a.report_hash());
  in.set_summary(a.summary());
  in.set_recorded_by(signer_);
  in.set_height(ctx_.height);
  in.set_recorded_at_ms(ctx_.block_time_ms);
  view_.PutInspection(in);
  s.set_status(a.result());
  s.set_last_inspection_ms(a.inspected_at_ms());
  s.set_status_changed_ms(ctx_.block_time_ms);
  s.set_status_reason("inspection " + std::to_string(in.sequence()) + " by " + a.inspector());
  s.set_inspection_count(in.sequence());
  view_.PutSite(s);
  return {};
}

Result<void> Execution::SetSiteStatus(const v1::SetSiteStatus& a) {
  auto signer = RequireSigner({v1::ROLE_REGULATOR}, "set site status");
  if (!signer) return tl::unexpected(signer.error());
  if (!IsRecordableSiteStatus(a.status())) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "a site status is set to green, yellow or red (blue is derived "
                                 "from the time since the last inspection)"));
  }
  MT_TRY(CheckText(a.reason(), "reason", 1, kMaxReasonChars));
  auto site = LoadSite(a.site_id());
  if (!site) return tl::unexpected(site.error());
  v1::MineSite s = *site;
  // The lapse clock (last_inspection_ms) is left alone: only an inspection restarts it.
  s.set_status(a.status());
  s.set_status_changed_ms(ctx_.block_time_ms);
  s.set_status_reason(a.reason());
  view_.PutSite(s);
  return {};
}

Result<void> Execution::SetSiteTagsWithdrawn(const std::string& site_id, bool withdraw,
                                             const std::string& reason) {
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR, v1::ROLE_REGULATOR},
                              withdraw ? "withdraw a site's tags" : "restore a site's tags");
  if (!signer) return tl::unexpected(signer.error());
  MT_TRY(CheckText(reason, "reason", 1, kMaxReasonChars));
  auto site = LoadSite(site_id);
  if (!site) return tl::unexpected(site.error());
  v1::MineSite s = *site;
  if (withdraw && s.tags_withdrawn()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "tags of site '" + site_id + "' are already withdrawn"));
  }
  if (!withdraw && !s.tags_withdrawn()) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, "tags of site '" + site_id + "' are not withdrawn"));
  }
  s.set_tags_withdrawn(withdraw);
  // Withdrawal touches no tag record: a tag allocated at or before this height is withdrawn
  // (CheckTagNotWithdrawn). Restoring keeps the height, so those tags stay unusable.
  if (withdraw) s.set_tags_withdrawn_height(ctx_.height);
  view_.PutSite(s);
  return {};
}

Result<void> Execution::CheckIncidentSubject(v1::IncidentSubjectKind kind, const std::string& id) {
  switch (kind) {
    case v1::INCIDENT_SUBJECT_SITE: {
      auto site = LoadSite(id);
      if (!site) return tl::unexpected(site.error());
      return {};
    }
    case v1::INCIDENT_SUBJECT_LOT: {
      auto lot = LoadLot(id);
      if (!lot) return tl::unexpected(lot.error());
      return {};
    }
    case v1::INCIDENT_SUBJECT_MEMBER: {
      if (!IsLowerHexKey(id)) {
        return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                     "a member subject is named by its key in lowercase hex (64 "
                                     "characters)"));
      }
      auto key = FromHex(id);
      MT_ASSERT(key.has_value());
      auto m = view_.GetMember(std::string(key->begin(), key->end()));
      if (!m) return tl::unexpected(m.error());
      if (!m->has_value()) {
        return tl::unexpected(Refuse(ErrorCode::kNotFound, "no member with key " + id));
      }
      return {};
    }
    case v1::INCIDENT_SUBJECT_TAG: {
      auto tag = view_.GetTag(id);
      if (!tag) return tl::unexpected(tag.error());
      if (!tag->has_value()) {
        return tl::unexpected(Refuse(ErrorCode::kNotFound, "tag '" + id + "' was never allocated"));
      }
      return {};
    }
    default:
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "an incident's subject is a site, lot, member or tag"));
  }
}

Result<void> Execution::ReportIncident(const v1::ReportIncident& a) {
  auto signer = RequireSigner({}, "report incidents");
  if (!signer) return tl::unexpected(signer.error());
  if (a.category() == v1::INCIDENT_CATEGORY_UNSPECIFIED ||
      !v1::IncidentCategory_IsValid(a.category())) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "an incident needs a category (OECD Annex II or iTSCi)"));
  }
  if (a.level() < 1 || a.level() > 3) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "incident level must be 1 (serious), 2 or 3"));
  }
  MT_TRY(CheckText(a.description(), "description", 1, kMaxIncidentTextChars));
  if (a.occurred_at_ms() < 0 || a.occurred_at_ms() > ctx_.block_time_ms + kMaxDeviceClockAheadMs) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "occurred_at_ms must be 0 (unknown) or a time not after the "
                                 "block"));
  }
  if (!v1::IncidentSource_IsValid(a.source())) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "unknown incident source " + std::to_string(a.source())));
  }
  v1::IncidentSource source = a.source();
  if (!a.flag_id().empty()) {
    if (source != v1::INCIDENT_SOURCE_UNSPECIFIED && source != v1::INCIDENT_SOURCE_ANOMALY) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "an incident opened from a flag has the source anomaly"));
    }
    source = v1::INCIDENT_SOURCE_ANOMALY;
  } else if (source == v1::INCIDENT_SOURCE_UNSPECIFIED) {
    source = v1::INCIDENT_SOURCE_OTHER;
  }
  MT_TRY(CheckIncidentSubject(a.subject_kind(), a.subject_id()));
  auto seq = view_.NextSequence("incident");
  if (!seq) return tl::unexpected(seq.error());
  char id[32];
  std::snprintf(id, sizeof id, "INC-%07llu", static_cast<unsigned long long>(*seq));
  if (!a.flag_id().empty()) {
    auto flag = view_.GetFlag(a.flag_id());
    if (!flag) return tl::unexpected(flag.error());
    if (!flag->has_value()) {
      return tl::unexpected(Refuse(ErrorCode::kNotFound, "no flag '" + a.flag_id() + "'"));
    }
    v1::Flag f = **flag;
    if (!f.incident_id().empty()) {
      return tl::unexpected(
          Refuse(ErrorCode::kFailedPrecondition,
                 "flag '" + f.flag_id() + "' already opened incident '" + f.incident_id() + "'"));
    }
    f.set_incident_id(id);
    MT_TRY(view_.PutFlag(**flag, f));
  }
  v1::Incident i;
  i.set_incident_id(id);
  i.set_subject_kind(a.subject_kind());
  i.set_subject_id(a.subject_id());
  i.set_category(a.category());
  i.set_level(a.level());
  i.set_status(v1::INCIDENT_STATUS_OPEN);
  i.set_description(a.description());
  i.set_source(source);
  i.set_flag_id(a.flag_id());
  i.set_reported_by(signer_);
  i.set_reported_at_ms(ctx_.block_time_ms);
  i.set_occurred_at_ms(a.occurred_at_ms());
  i.set_reported_height(ctx_.height);
  return view_.PutIncident(std::nullopt, i);
}

Result<void> Execution::UpdateIncident(const v1::UpdateIncident& a) {
  auto signer = RequireSigner({}, "update incidents");
  if (!signer) return tl::unexpected(signer.error());
  auto found = view_.GetIncident(a.incident_id());
  if (!found) return tl::unexpected(found.error());
  if (!found->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no incident '" + a.incident_id() + "'"));
  }
  const v1::Incident& before = **found;
  const std::string name = "incident '" + before.incident_id() + "'";
  if (before.status() == v1::INCIDENT_STATUS_CLOSED) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, name + " is closed and changes no more"));
  }
  if (!v1::IncidentStatus_IsValid(a.status()) || !v1::IncidentCategory_IsValid(a.category()) ||
      !v1::IncidentOutcome_IsValid(a.outcome())) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "unknown incident status, category or outcome"));
  }
  if (a.level() > 3) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "incident level must be 1 (serious), 2 or 3 (0 = unchanged)"));
  }
  MT_TRY(CheckText(a.note(), "note", 0, kMaxIncidentTextChars));
  const bool status_change = a.status() != v1::INCIDENT_STATUS_UNSPECIFIED;
  const bool level_change = a.level() != 0;
  const bool category_change = a.category() != v1::INCIDENT_CATEGORY_UNSPECIFIED;
  if (status_change || level_change || category_change) {
    auto regulator =
        RequireSigner({v1::ROLE_REGULATOR}, "change an incident's status, level or category");
    if (!regulator) return tl::unexpected(regulator.error());
  } else if (a.note().empty()) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "nothing to change: give a status, level, category or note"));
  }
  if (a.outcome() != v1::INCIDENT_OUTCOME_UNSPECIFIED &&
      a.status() != v1::INCIDENT_STATUS_RESOLVED) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "an outcome is given only when the incident becomes resolved"));
  }
  v1::Incident i = before;
  std::string change;
  if (status_change) {
    if (a.status() <= before.status()) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   name + " is " + IncidentStatusName(before.status()) +
                                       "; its status only moves forward (open, under "
                                       "mitigation, resolved, closed)"));
    }
    if (a.status() == v1::INCIDENT_STATUS_RESOLVED &&
        a.outcome() == v1::INCIDENT_OUTCOME_UNSPECIFIED) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "resolving " + name +
                                       " needs an outcome (mitigated, "
                                       "unsubstantiated, sanction applied, referred, no action "
                                       "possible)"));
    }
    if (a.status() == v1::INCIDENT_STATUS_CLOSED &&
        before.status() != v1::INCIDENT_STATUS_RESOLVED) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   name + " is " + IncidentStatusName(before.status()) +
                                       "; it is closed only once resolved"));
    }
    i.set_status(a.status());
    change =
        "status " + IncidentStatusName(before.status()) + " -> " + IncidentStatusName(a.status());
    if (a.status() == v1::INCIDENT_STATUS_RESOLVED) {
      i.set_outcome(a.outcome());
      change += " (outcome " + IncidentOutcomeName(a.outcome()) + ")";
    }
    if (a.status() == v1::INCIDENT_STATUS_CLOSED) i.set_closed_at_ms(ctx_.block_time_ms);
  } else if (before.notes_size() >= kMaxIncidentNotes) {
    // Status changes are always recorded (at most three); other updates are bounded.
    return tl::unexpected(Refuse(ErrorCode::kResourceExhausted,
                                 name + " has " + std::to_string(kMaxIncidentNotes) +
                                     " notes, the most it keeps; only its status may change"));
  }
  if (level_change) {
    if (a.level() == before.level()) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   name + " is already level " + std::to_string(a.level())));
    }
    i.set_level(a.level());
    change += std::string(change.empty() ? "" : "; ") + "level " + std::to_string(before.level()) +
              " -> " + std::to_string(a.level());
  }
  if (category_change) {
    if (a.category() == before.category()) {
      return tl::unexpected(
          Refuse(ErrorCode::kFailedPrecondition, name + " already has that category"));
    }
    i.set_category(a.category());
    change += std::string(change.empty() ? "" : "; ") + "category " +
              IncidentCategoryName(before.category()) + " -> " + IncidentCategoryName(a.category());
  }
  v1::IncidentNote* note = i.add_notes();
  note->set_author(signer_);
  note->set_at_ms(ctx_.block_time_ms);
  note->set_text(change.empty() ? a.note() : a.note().empty() ? change : change + ": " + a.note());
  note->set_status_after(i.status());
  note->set_height(ctx_.height);
  return view_.PutIncident(before, i);
}

Result<void> Execution::SetAuditFlag(const v1::SetAuditFlag& a) {
  auto signer = RequireSigner({v1::ROLE_REGULATOR}, "set audit flags");
  if (!signer) return tl::unexpected(signer.error());
  if (a.flag() != v1::AUDIT_FLAG_GREEN && a.flag() != v1::AUDIT_FLAG_YELLOW &&
      a.flag() != v1::AUDIT_FLAG_RED) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "an audit flag is green, yellow or red"));
  }
  MT_TRY(CheckText(a.reason(), "reason", 1, kMaxReasonChars));
  auto m = view_.GetMember(a.member_key());
  if (!m) return tl::unexpected(m.error());
  if (!m->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kNotFound, "no member with key " + ShortKey(a.member_key())));
  }
  v1::Member member = **m;
  if (!HasRole(member, v1::ROLE_EXPORTER)) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition,
               "member '" + member.name() + "' is not an exporter; audit flags are for exporters"));
  }
  member.set_audit_flag(a.flag());
  member.set_audit_flag_reason(a.reason());
  member.set_audit_flag_set_ms(ctx_.block_time_ms);
  view_.PutMember(member);
  return {};
}

}  // namespace minetrace::ledger::detail
