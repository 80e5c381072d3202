// The shared part of execution: the envelope checks, the dispatch of each action to its rules
// (rules_custody.cc, rules_processing.cc, rules_export.cc, rules_oversight.cc), the checks
// every action uses, and the member and site actions.
#include "minetrace/ledger/rules.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "execution.h"
#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/bundle_context.h"

namespace minetrace::ledger {
namespace detail {

Error Refuse(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

std::string ShortKey(std::string_view key) { return ToHex(AsBytes(key)); }

namespace {
// Lowercase enum value name without its prefix, with spaces: ASCII only, never the locale,
// because reasons are hashed into receipts and must not vary between validators.
std::string EnumWords(std::string name, std::string_view prefix) {
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '_') c = ' ';
  }
  return name;
}
}  // namespace

std::string RoleName(v1::Role r) { return EnumWords(v1::Role_Name(r), "ROLE_"); }
std::string SiteStatusName(v1::SiteStatus s) {
  return EnumWords(v1::SiteStatus_Name(s), "SITE_STATUS_");
}
std::string MineralName(v1::Mineral m) { return EnumWords(v1::Mineral_Name(m), "MINERAL_"); }
std::string IncidentStatusName(v1::IncidentStatus s) {
  return EnumWords(v1::IncidentStatus_Name(s), "INCIDENT_STATUS_");
}
std::string IncidentCategoryName(v1::IncidentCategory c) {
  return EnumWords(v1::IncidentCategory_Name(c), "INCIDENT_CATEGORY_");
}
std::string IncidentOutcomeName(v1::IncidentOutcome o) {
  return EnumWords(v1::IncidentOutcome_Name(o), "INCIDENT_OUTCOME_");
}
std::string ShipmentStatusName(v1::ShipmentStatus s) {
  return EnumWords(v1::ShipmentStatus_Name(s), "SHIPMENT_STATUS_");
}

std::string JoinNames(const std::vector<std::string>& names, size_t max) {
  std::string out;
  size_t shown = std::min(names.size(), max);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += (i + 1 == shown && shown == names.size()) ? " and " : ", ";
    out += "'" + names[i] + "'";
  }
  if (shown < names.size()) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

bool HasRole(const v1::Member& m, v1::Role role) {
  return std::find(m.roles().begin(), m.roles().end(), role) != m.roles().end();
}

bool IsCountryCode(std::string_view c) {
  return c.size() == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z';
}

bool IsIdentifier(std::string_view id, size_t max_len) {
  if (id.empty() || id.size() > max_len) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string GramsText(uint64_t grams) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu.%03llu kg", static_cast<unsigned long long>(grams / 1000),
                static_cast<unsigned long long>(grams % 1000));
  return buf;
}

Result<TxEffects> Execution::Run() {
  if (body_.chain_id() != ctx_.chain_id) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "transaction is for chain '" + body_.chain_id() +
                                                "' but this ledger is '" + ctx_.chain_id + "'"));
  }
  if (body_.created_at_ms() <= 0) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "created_at_ms (device time) must be set"));
  }
  if (body_.created_at_ms() > ctx_.block_time_ms + kMaxDeviceClockAheadMs) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "device time created_at_ms is more than 10 minutes ahead of "
                                 "ledger time: check the signing device's clock"));
  }
  Result<void> r;
  // No default: -Wswitch names every action added to TxBody without rules here.
  switch (body_.action_case()) {
    case v1::TxBody::kRegisterMember:
      r = RegisterMember(body_.register_member());
      break;
    case v1::TxBody::kSuspendMember:
      r = SetMemberStatus(body_.suspend_member().member_key(), true,
                          body_.suspend_member().reason());
      break;
    case v1::TxBody::kReinstateMember:
      r = SetMemberStatus(body_.reinstate_member().member_key(), false,
                          body_.reinstate_member().reason());
      break;
    case v1::TxBody::kRegisterMineSite:
      r = RegisterMineSite(body_.register_mine_site());
      break;
    case v1::TxBody::kAllocateTags:
      r = AllocateTags(body_.allocate_tags());
      break;
    case v1::TxBody::kRecordMineLot:
      r = RecordMineLot(body_.record_mine_lot());
      break;
    case v1::TxBody::kDispatchLots:
      r = DispatchLots(body_.dispatch_lots());
      break;
    case v1::TxBody::kReceiveLots:
      r = ReceiveLots(body_.receive_lots());
      break;
    case v1::TxBody::kCancelDispatch:
      r = CancelDispatch(body_.cancel_dispatch());
      break;
    case v1::TxBody::kRecordInspection:
      r = RecordInspection(body_.record_inspection());
      break;
    case v1::TxBody::kSetSiteStatus:
      r = SetSiteStatus(body_.set_site_status());
      break;
    case v1::TxBody::kReportTags:
      r = ReportTags(body_.report_tags());
      break;
    case v1::TxBody::kWithdrawSiteTags:
      r = SetSiteTagsWithdrawn(body_.withdraw_site_tags().site_id(), true,
                               body_.withdraw_site_tags().reason());
      break;
    case v1::TxBody::kRestoreSiteTags:
      r = SetSiteTagsWithdrawn(body_.restore_site_tags().site_id(), false,
                               body_.restore_site_tags().reason());
      break;
    case v1::TxBody::kProcessLots:
      r = ProcessLots(body_.process_lots());
      break;
    case v1::TxBody::kFormShipment:
      r = FormShipment(body_.form_shipment());
      break;
    case v1::TxBody::kReviewShipment:
      r = ReviewShipment(body_.review_shipment());
      break;
    case v1::TxBody::kDispatchShipment:
      r = DispatchShipment(body_.dispatch_shipment());
      break;
    case v1::TxBody::kReceiveShipment:
      r = ReceiveShipment(body_.receive_shipment());
      break;
    case v1::TxBody::kCancelShipment:
      r = CancelShipment(body_.cancel_shipment());
      break;
    case v1::TxBody::kReportIncident:
      r = ReportIncident(body_.report_incident());
      break;
    case v1::TxBody::kUpdateIncident:
      r = UpdateIncident(body_.update_incident());
      break;
    case v1::TxBody::kSetAuditFlag:
      r = SetAuditFlag(body_.set_audit_flag());
      break;
    case v1::TxBody::ACTION_NOT_SET:
      r = tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "transaction has no action"));
      break;
  }
  if (!r) return tl::unexpected(r.error());
  if (ctx_.block_time_ms - body_.created_at_ms() > kLateUploadMs) {
    v1::Anomaly a;
    a.set_kind("late_upload");
    a.set_detail("signed " + std::to_string((ctx_.block_time_ms - body_.created_at_ms()) / kDayMs) +
                 " days before it reached the ledger");
    effects_.anomalies.push_back(std::move(a));
  }
  return std::move(effects_);
}

Result<v1::Member> Execution::RequireSigner(std::initializer_list<v1::Role> roles,
                                            std::string_view what) {
  auto m = view_.GetMember(signer_);
  if (!m) return tl::unexpected(m.error());
  if (!m->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kPermissionDenied,
                                 "signer " + ShortKey(signer_) +
                                     " is not a registered member; an administrator must "
                                     "register the key first"));
  }
  const v1::Member& member = **m;
  if (member.status() != v1::MEMBER_STATUS_ACTIVE) {
    return tl::unexpected(
        Refuse(ErrorCode::kPermissionDenied, "member '" + member.name() + "' is suspended (" +
                                                 member.status_reason() + ") and may not act"));
  }
  if (roles.size() == 0) return member;
  for (v1::Role role : roles) {
    if (HasRole(member, role)) return member;
  }
  std::string names;
  for (v1::Role role : roles) names += (names.empty() ? "" : " or ") + RoleName(role);
  return tl::unexpected(
      Refuse(ErrorCode::kPermissionDenied, "member '" + member.name() + "' lacks the role " +
                                               names + " needed to " + std::string(what)));
}

Result<v1::Member> Execution::RequireCounterpart(std::string_view key,
                                                 std::initializer_list<v1::Role> roles,
                                                 std::string_view as_what) {
  if (key.size() != 32) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               std::string(as_what) + " key must be 32 bytes, got " + std::to_string(key.size())));
  }
  auto m = view_.GetMember(key);
  if (!m) return tl::unexpected(m.error());
  if (!m->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition,
               std::string(as_what) + " " + ShortKey(key) + " is not a registered member"));
  }
  const v1::Member& member = **m;
  if (member.status() != v1::MEMBER_STATUS_ACTIVE) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 std::string(as_what) + " '" + member.name() + "' is suspended"));
  }
  for (v1::Role role : roles) {
    if (HasRole(member, role)) return member;
  }
  std::string names;
  for (v1::Role role : roles) names += (names.empty() ? "" : " or ") + RoleName(role);
  return tl::unexpected(
      Refuse(ErrorCode::kFailedPrecondition,
             std::string(as_what) + " '" + member.name() + "' does not hold the role " + names));
}

Result<v1::Lot> Execution::LoadLot(const std::string& lot_id) {
  auto lot = view_.GetLot(lot_id);
  if (!lot) return tl::unexpected(lot.error());
  if (!lot->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no lot '" + lot_id + "'"));
  }
  return **lot;
}

Result<v1::MineSite> Execution::LoadSite(const std::string& site_id) {
  auto site = view_.GetSite(site_id);
  if (!site) return tl::unexpected(site.error());
  if (!site->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no mine site '" + site_id + "'"));
  }
  return **site;
}

Result<v1::Shipment> Execution::LoadShipment(const std::string& shipment_id) {
  auto s = view_.GetShipment(shipment_id);
  if (!s) return tl::unexpected(s.error());
  if (!s->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no shipment '" + shipment_id + "'"));
  }
  return **s;
}

Result<void> Execution::CheckLotTime(const v1::Lot& lot) {
  if (body_.created_at_ms() < lot.last_device_time_ms()) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition,
               "lot '" + lot.lot_id() + "': device time " + std::to_string(body_.created_at_ms()) +
                   " is before its previous event at " + std::to_string(lot.last_device_time_ms()) +
                   "; a lot's events never go back in time"));
  }
  return {};
}

Result<void> Execution::CheckHeldBySigner(const v1::Lot& lot, std::string_view to_do) {
  if (lot.status() == v1::LOT_STATUS_HELD && lot.holder_key() == signer_) return {};
  std::string why;
  switch (lot.status()) {
    case v1::LOT_STATUS_HELD:
      why = "is held by another member";
      break;
    case v1::LOT_STATUS_IN_TRANSIT:
      why = "is in transit";
      break;
    case v1::LOT_STATUS_CONSUMED: {
      std::vector<std::string> children(lot.child_lot_ids().begin(), lot.child_lot_ids().end());
      why = "was consumed by processing into " + JoinNames(children);
      break;
    }
    case v1::LOT_STATUS_IN_SHIPMENT:
      why = "is in shipment '" + lot.shipment_id() + "'";
      break;
    case v1::LOT_STATUS_EXPORTED:
      why = "was exported in shipment '" + lot.shipment_id() + "'";
      break;
    case v1::LOT_STATUS_DELIVERED:
      why = "was delivered to the smelter in shipment '" + lot.shipment_id() + "'";
      break;
    default:
      why = "is not held";
      break;
  }
  return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                               "lot '" + lot.lot_id() + "' " + why + "; only its current holder " +
                                   "may " + std::string(to_do) + " it"));
}

void Execution::TouchLot(const std::optional<v1::Lot>& before, v1::Lot lot) {
  v1::LotLink link;
  link.set_lot_id(lot.lot_id());
  if (before) link.set_previous_receipt_hash(before->last_receipt_hash());
  effects_.lot_links.push_back(std::move(link));
  lot.set_last_device_time_ms(body_.created_at_ms());
  lot.set_last_ledger_time_ms(ctx_.block_time_ms);
  view_.PutLot(before, lot);
}

Result<void> Execution::CheckDistinct(const std::vector<std::string>& lot_ids) {
  if (lot_ids.empty()) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "no lots named"));
  }
  if (lot_ids.size() > kMaxLotsPerTx) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               "at most " + std::to_string(kMaxLotsPerTx) + " lots per transaction"));
  }
  std::set<std::string> seen;
  for (const auto& id : lot_ids) {
    if (!seen.insert(id).second) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "lot '" + id + "' is named twice"));
    }
  }
  return {};
}

Result<void> Execution::CheckText(std::string_view text, std::string_view what, size_t min_chars,
                                  size_t max_chars) {
  if (text.size() < min_chars || text.size() > max_chars) {
    std::string range = min_chars == 0
                            ? "at most " + std::to_string(max_chars)
                            : std::to_string(min_chars) + " to " + std::to_string(max_chars);
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 std::string(what) + " must be " + range + " characters" +
                                     (min_chars > 0 && text.empty() ? " (it is required)" : "")));
  }
  return {};
}

tl::unexpected<Error> Execution::RefuseFlagged(ErrorCode code, std::string message,
                                               v1::Anomaly anomaly) {
  if (anomaly.detail().empty()) anomaly.set_detail(message);
  refusal_anomalies_.push_back(std::move(anomaly));
  return tl::unexpected(Refuse(code, std::move(message)));
}

Result<void> Execution::RegisterMember(const v1::RegisterMember& a) {
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR}, "register members");
  if (!signer) return tl::unexpected(signer.error());
  if (a.member_key().size() != 32) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "member_key must be a 32-byte x-only public key"));
  }
  if (a.name().empty() || a.name().size() > 200) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "member name must be 1 to 200 characters"));
  }
  if (a.roles().empty()) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "a member needs at least one role"));
  }
  if (!a.country().empty() && !IsCountryCode(a.country())) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "country must be an ISO 3166-1 alpha-2 code such as CD"));
  }
  for (int role : a.roles()) {
    if (role == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(role)) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument, "unknown role " + std::to_string(role)));
    }
  }
  auto existing = view_.GetMember(a.member_key());
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kAlreadyExists, "key " + ShortKey(a.member_key()) +
                                                                " is already registered as '" +
                                                                (*existing)->name() + "'"));
  }
  v1::Member m;
  m.set_key(a.member_key());
  m.set_name(a.name());
  *m.mutable_roles() = a.roles();
  m.set_country(a.country());
  m.set_status(v1::MEMBER_STATUS_ACTIVE);
  m.set_registered_height(ctx_.height);
  view_.PutMember(m);
  return {};
}

Result<void> Execution::SetMemberStatus(std::string_view key, bool suspend,
                                        const std::string& reason) {
  auto signer =
      RequireSigner({v1::ROLE_ADMINISTRATOR}, suspend ? "suspend members" : "reinstate members");
  if (!signer) return tl::unexpected(signer.error());
  if (key == signer_) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "an administrator may not suspend or reinstate itself"));
  }
  auto m = view_.GetMember(key);
  if (!m) return tl::unexpected(m.error());
  if (!m->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no member with key " + ShortKey(key)));
  }
  v1::Member member = **m;
  if (suspend && member.status() == v1::MEMBER_STATUS_SUSPENDED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "member '" + member.name() + "' is already suspended"));
  }
  if (!suspend && member.status() != v1::MEMBER_STATUS_SUSPENDED) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, "member '" + member.name() + "' is not suspended"));
  }
  member.set_status(suspend ? v1::MEMBER_STATUS_SUSPENDED : v1::MEMBER_STATUS_ACTIVE);
  member.set_status_reason(reason);
  view_.PutMember(member);
  return {};
}

Result<void> Execution::RegisterMineSite(const v1::RegisterMineSite& a) {
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR, v1::ROLE_REGULATOR}, "register mine sites");
  if (!signer) return tl::unexpected(signer.error());
  if (!IsIdentifier(a.site_id(), 64)) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "site_id must be 1 to 64 letters, digits, '-', '_' or '.'"));
  }
  if (a.name().empty() || a.name().size() > 200) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "site name must be 1 to 200 characters"));
  }
  if (a.minerals().empty()) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "a mine site declares at least one mineral"));
  }
  for (int mineral : a.minerals()) {
    if (mineral == v1::MINERAL_UNSPECIFIED || !v1::Mineral_IsValid(mineral)) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument, "unknown mineral " + std::to_string(mineral)));
    }
  }
  if (a.status() == v1::SITE_STATUS_UNSPECIFIED || !v1::SiteStatus_IsValid(a.status())) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "site status must be green, yellow, red or blue"));
  }
  if (a.latitude_microdeg() < -90'000'000 || a.latitude_microdeg() > 90'000'000 ||
      a.longitude_microdeg() < -180'000'000 || a.longitude_microdeg() > 180'000'000) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "site location out of range (latitude -90..90, longitude "
                                 "-180..180 degrees)"));
  }
  if (!IsCountryCode(a.country())) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "country must be an ISO 3166-1 alpha-2 code such as CD"));
  }
  if (a.production_estimate_kg_per_month() > kMaxProductionEstimateKg) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "production estimate is at most 1,000,000 t a month"));
  }
  auto existing = view_.GetSite(a.site_id());
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kAlreadyExists, "mine site '" + a.site_id() + "' is already registered"));
  }
  v1::MineSite s;
  s.set_site_id(a.site_id());
  s.set_name(a.name());
  s.set_country(a.country());
  s.set_latitude_microdeg(a.latitude_microdeg());
  s.set_longitude_microdeg(a.longitude_microdeg());
  *s.mutable_minerals() = a.minerals();
  s.set_status(a.status());
  s.set_production_estimate_kg_per_month(a.production_estimate_kg_per_month());
  // Registration follows an inspection (a joint mission): the status lapse clock starts now.
  s.set_last_inspection_ms(ctx_.block_time_ms);
  s.set_registered_height(ctx_.height);
  view_.PutSite(s);
  return {};
}

}  // namespace detail

v1::SiteStatus EffectiveSiteStatus(const v1::MineSite& site, int64_t time_ms) {
  // One rule for the ledger and the offline verifier: green turns blue a year after the last
  // inspection and red after three more; blue recorded at an inspection, red three years on.
  return proof::EffectiveSiteStatusAt(site.status(), site.last_inspection_ms(), time_ms);
}

Result<TxEffects> ExecuteTx(StateView& view, const BlockContext& ctx, const v1::TxBody& body,
                            std::string_view signer, std::vector<v1::Anomaly>* refusal_anomalies) {
  MT_ASSERT(signer.size() == 32);
  detail::Execution e(view, ctx, body, signer);
  auto effects = e.Run();
  if (!effects && refusal_anomalies != nullptr) {
    for (auto& a : e.TakeRefusalAnomalies()) refusal_anomalies->push_back(std::move(a));
  }
  return effects;
}

}  // namespace minetrace::ledger
