#include "minetrace/ledger/rules.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "minetrace/base/assert.h"

namespace minetrace::ledger {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

Error Refuse(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

std::string ShortKey(std::string_view key) { return ToHex(AsBytes(key)); }

std::string RoleName(v1::Role r) {
  std::string n = v1::Role_Name(r);
  constexpr std::string_view kPrefix = "ROLE_";
  if (n.rfind(kPrefix, 0) == 0) n = n.substr(kPrefix.size());
  // ASCII only, never the locale: reasons are hashed into receipts and must not vary.
  for (char& c : n) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return n;
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
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

std::string GramsText(uint64_t grams) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu.%03llu kg", static_cast<unsigned long long>(grams / 1000),
                static_cast<unsigned long long>(grams % 1000));
  return buf;
}

// The executing context of one transaction: who signs, when, on what view.
class Execution {
 public:
  Execution(StateView& view, const BlockContext& ctx, const v1::TxBody& body,
            std::string_view signer)
      : view_(view), ctx_(ctx), body_(body), signer_(signer) {}

  Result<TxEffects> Run();

 private:
  // The signer must be an active member holding one of `roles` (any role when empty).
  Result<v1::Member> RequireSigner(std::initializer_list<v1::Role> roles, std::string_view what);
  // `key` must be an active member holding one of `roles`.
  Result<v1::Member> RequireCounterpart(std::string_view key, std::initializer_list<v1::Role> roles,
                                        std::string_view as_what);
  Result<v1::Lot> LoadLot(const std::string& lot_id);
  Result<void> CheckLotTime(const v1::Lot& lot);
  void TouchLot(const std::optional<v1::Lot>& before, v1::Lot lot);
  Result<void> CheckDistinct(const std::vector<std::string>& lot_ids);

  Result<void> RegisterMember(const v1::RegisterMember& a);
  Result<void> SetMemberStatus(std::string_view key, bool suspend, const std::string& reason);
  Result<void> RegisterMineSite(const v1::RegisterMineSite& a);
  Result<void> AllocateTags(const v1::AllocateTags& a);
  Result<void> RecordMineLot(const v1::RecordMineLot& a);
  Result<void> DispatchLots(const v1::DispatchLots& a);
  Result<void> ReceiveLots(const v1::ReceiveLots& a);
  Result<void> CancelDispatch(const v1::CancelDispatch& a);

  StateView& view_;
  const BlockContext& ctx_;
  const v1::TxBody& body_;
  std::string signer_;
  TxEffects effects_;
};

Result<TxEffects> Execution::Run() {
  if (body_.chain_id() != ctx_.chain_id) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "transaction is for chain '" + body_.chain_id() +
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
  switch (body_.action_case()) {
    case v1::TxBody::kRegisterMember: r = RegisterMember(body_.register_member()); break;
    case v1::TxBody::kSuspendMember:
      r = SetMemberStatus(body_.suspend_member().member_key(), true,
                          body_.suspend_member().reason());
      break;
    case v1::TxBody::kReinstateMember:
      r = SetMemberStatus(body_.reinstate_member().member_key(), false,
                          body_.reinstate_member().reason());
      break;
    case v1::TxBody::kRegisterMineSite: r = RegisterMineSite(body_.register_mine_site()); break;
    case v1::TxBody::kAllocateTags: r = AllocateTags(body_.allocate_tags()); break;
    case v1::TxBody::kRecordMineLot: r = RecordMineLot(body_.record_mine_lot()); break;
    case v1::TxBody::kDispatchLots: r = DispatchLots(body_.dispatch_lots()); break;
    case v1::TxBody::kReceiveLots: r = ReceiveLots(body_.receive_lots()); break;
    case v1::TxBody::kCancelDispatch: r = CancelDispatch(body_.cancel_dispatch()); break;
    case v1::TxBody::ACTION_NOT_SET:
      r = tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "transaction has no action"));
      break;
    default:  // issue 5: the rules of these actions are being written
      r = tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "action not supported yet"));
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
    return tl::unexpected(Refuse(ErrorCode::kPermissionDenied,
                                 "member '" + member.name() + "' is suspended (" +
                                     member.status_reason() + ") and may not act"));
  }
  if (roles.size() == 0) return member;
  for (v1::Role role : roles) {
    if (HasRole(member, role)) return member;
  }
  std::string names;
  for (v1::Role role : roles) names += (names.empty() ? "" : " or ") + RoleName(role);
  return tl::unexpected(Refuse(ErrorCode::kPermissionDenied,
                               "member '" + member.name() + "' lacks the role " + names +
                                   " needed to " + std::string(what)));
}

Result<v1::Member> Execution::RequireCounterpart(std::string_view key,
                                                 std::initializer_list<v1::Role> roles,
                                                 std::string_view as_what) {
  if (key.size() != 32) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 std::string(as_what) + " key must be 32 bytes, got " +
                                     std::to_string(key.size())));
  }
  auto m = view_.GetMember(key);
  if (!m) return tl::unexpected(m.error());
  if (!m->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 std::string(as_what) + " " + ShortKey(key) +
                                     " is not a registered member"));
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
  return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                               std::string(as_what) + " '" + member.name() +
                                   "' does not hold the role " + names));
}

Result<v1::Lot> Execution::LoadLot(const std::string& lot_id) {
  auto lot = view_.GetLot(lot_id);
  if (!lot) return tl::unexpected(lot.error());
  if (!lot->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no lot '" + lot_id + "'"));
  }
  return **lot;
}

// Rule 7: a lot's events never go back in time (device time).
Result<void> Execution::CheckLotTime(const v1::Lot& lot) {
  if (body_.created_at_ms() < lot.last_device_time_ms()) {
    return tl::unexpected(Refuse(
        ErrorCode::kFailedPrecondition,
        "lot '" + lot.lot_id() + "': device time " + std::to_string(body_.created_at_ms()) +
            " is before its previous event at " + std::to_string(lot.last_device_time_ms()) +
            "; a lot's events never go back in time"));
  }
  return {};
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
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "at most " + std::to_string(kMaxLotsPerTx) +
                                     " lots per transaction"));
  }
  std::set<std::string> seen;
  for (const auto& id : lot_ids) {
    if (!seen.insert(id).second) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument, "lot '" + id + "' is named twice"));
    }
  }
  return {};
}

Result<void> Execution::RegisterMember(const v1::RegisterMember& a) {
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR}, "register members");
  if (!signer) return tl::unexpected(signer.error());
  if (a.member_key().size() != 32) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "member_key must be a 32-byte x-only public key"));
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
    return tl::unexpected(Refuse(ErrorCode::kAlreadyExists,
                                 "key " + ShortKey(a.member_key()) +
                                     " is already registered as '" + (*existing)->name() + "'"));
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
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR},
                              suspend ? "suspend members" : "reinstate members");
  if (!signer) return tl::unexpected(signer.error());
  if (key == signer_) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "an administrator may not suspend or reinstate itself"));
  }
  auto m = view_.GetMember(key);
  if (!m) return tl::unexpected(m.error());
  if (!m->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kNotFound, "no member with key " + ShortKey(key)));
  }
  v1::Member member = **m;
  if (suspend && member.status() == v1::MEMBER_STATUS_SUSPENDED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "member '" + member.name() + "' is already suspended"));
  }
  if (!suspend && member.status() != v1::MEMBER_STATUS_SUSPENDED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "member '" + member.name() + "' is not suspended"));
  }
  member.set_status(suspend ? v1::MEMBER_STATUS_SUSPENDED : v1::MEMBER_STATUS_ACTIVE);
  member.set_status_reason(reason);
  view_.PutMember(member);
  return {};
}

Result<void> Execution::RegisterMineSite(const v1::RegisterMineSite& a) {
  auto signer =
      RequireSigner({v1::ROLE_ADMINISTRATOR, v1::ROLE_REGULATOR}, "register mine sites");
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
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "site status must be green, yellow, red or blue"));
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
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "production estimate is at most 1,000,000 t a month"));
  }
  auto existing = view_.GetSite(a.site_id());
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kAlreadyExists,
                                 "mine site '" + a.site_id() + "' is already registered"));
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

Result<void> Execution::AllocateTags(const v1::AllocateTags& a) {
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR}, "allocate tags");
  if (!signer) return tl::unexpected(signer.error());
  if (!IsIdentifier(a.prefix(), 16)) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "tag prefix must be 1 to 16 letters, digits, '-', '_' or '.'"));
  }
  if (a.count() == 0 || a.count() > kMaxTagsPerAllocation) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "tag count must be 1 to " +
                                     std::to_string(kMaxTagsPerAllocation)));
  }
  if (a.first() >= 10'000'000 || a.count() > 10'000'000 - a.first()) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "tag numbers are at most 7 digits (< 10000000)"));
  }
  auto site = view_.GetSite(a.site_id());
  if (!site) return tl::unexpected(site.error());
  if (!site->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no mine site '" + a.site_id() + "'"));
  }
  if ((*site)->tags_withdrawn()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "tags of site '" + a.site_id() + "' are withdrawn"));
  }
  if (EffectiveSiteStatus(**site, ctx_.block_time_ms) == v1::SITE_STATUS_RED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "site '" + a.site_id() + "' is red: no tags for it"));
  }
  auto agent = RequireCounterpart(a.agent_key(), {v1::ROLE_AGENT}, "agent");
  if (!agent) return tl::unexpected(agent.error());
  for (uint64_t n = a.first(); n < a.first() + a.count(); ++n) {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%07llu", static_cast<unsigned long long>(n));
    std::string tag_id = a.prefix() + digits;
    auto existing = view_.GetTag(tag_id);
    if (!existing) return tl::unexpected(existing.error());
    if (existing->has_value()) {
      return tl::unexpected(Refuse(ErrorCode::kAlreadyExists,
                                   "tag " + tag_id + " is already allocated (to site '" +
                                       (*existing)->site_id() + "'); a tag is allocated once"));
    }
    v1::Tag t;
    t.set_tag_id(tag_id);
    t.set_site_id(a.site_id());
    t.set_agent_key(a.agent_key());
    t.set_status(v1::TAG_STATUS_ALLOCATED);
    t.set_allocated_height(ctx_.height);
    view_.PutTag(t);
  }
  return {};
}

Result<void> Execution::RecordMineLot(const v1::RecordMineLot& a) {
  auto signer = RequireSigner({v1::ROLE_AGENT}, "record mine lots");
  if (!signer) return tl::unexpected(signer.error());
  if (a.weight_grams() == 0 || a.weight_grams() > kMaxLotWeightGrams) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "lot weight must be more than 0 and at most 100 t"));
  }
  if (a.grade_basis_points() > 10000) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "grade must be 0 to 100 % (0 to 10000 bp)"));
  }
  auto tag = view_.GetTag(a.tag_id());
  if (!tag) return tl::unexpected(tag.error());
  if (!tag->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kNotFound, "tag '" + a.tag_id() + "' was never allocated"));
  }
  v1::Tag t = **tag;
  if (t.agent_key() != signer_) {
    return tl::unexpected(Refuse(ErrorCode::kPermissionDenied,
                                 "tag " + t.tag_id() + " is allocated to another agent"));
  }
  switch (t.status()) {
    case v1::TAG_STATUS_ALLOCATED: break;
    case v1::TAG_STATUS_USED:
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "tag " + t.tag_id() + " is already used by lot '" +
                                       t.lot_id() + "'; a tag is used once"));
    default:
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "tag " + t.tag_id() + " is void or lost and can never be used"));
  }
  if (t.site_id() != a.site_id()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "tag " + t.tag_id() + " is allocated to site '" + t.site_id() +
                                     "', not '" + a.site_id() + "'"));
  }
  auto site = view_.GetSite(a.site_id());
  if (!site) return tl::unexpected(site.error());
  if (!site->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kNotFound, "no mine site '" + a.site_id() + "'"));
  }
  const v1::MineSite& s = **site;
  if (EffectiveSiteStatus(s, ctx_.block_time_ms) == v1::SITE_STATUS_RED) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "site '" + s.site_id() + "' is red: no mine lots may be recorded"));
  }
  if (s.tags_withdrawn()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "tags of site '" + s.site_id() + "' are withdrawn"));
  }
  if (std::find(s.minerals().begin(), s.minerals().end(), a.mineral()) == s.minerals().end()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "site '" + s.site_id() + "' does not declare the mineral " +
                                     v1::Mineral_Name(a.mineral())));
  }
  auto producer = RequireCounterpart(a.producer_key(), {v1::ROLE_COOPERATIVE}, "producer");
  if (!producer) return tl::unexpected(producer.error());
  auto existing = view_.GetLot(a.tag_id());
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(Refuse(ErrorCode::kAlreadyExists,
                                 "lot id '" + a.tag_id() + "' is already in use"));
  }

  v1::Lot lot;
  lot.set_lot_id(a.tag_id());
  lot.set_tag_id(a.tag_id());
  lot.set_site_id(a.site_id());
  lot.set_mineral(a.mineral());
  lot.set_weight_grams(a.weight_grams());
  lot.set_grade_basis_points(a.grade_basis_points());
  lot.set_producer_key(a.producer_key());
  lot.set_recorded_by(signer_);
  lot.set_status(v1::LOT_STATUS_HELD);
  lot.set_holder_key(a.producer_key());
  lot.set_created_device_time_ms(body_.created_at_ms());
  lot.set_created_height(ctx_.height);
  TouchLot(std::nullopt, lot);

  t.set_status(v1::TAG_STATUS_USED);
  t.set_lot_id(lot.lot_id());
  view_.PutTag(t);

  // Anomaly: tagged volume this month above the site's production estimate.
  std::string volume_key = keys::SiteMonthVolume(s.site_id(), ctx_.block_time_ms);
  auto raw = view_.Get(Column::kState, volume_key);
  if (!raw) return tl::unexpected(raw.error());
  uint64_t grams = raw->has_value() ? ReadBigEndian64(**raw) : 0;
  grams += a.weight_grams();
  view_.Put(Column::kState, volume_key, keys::Be64(grams));
  uint64_t estimate_grams = s.production_estimate_kg_per_month() * 1000;
  if (estimate_grams > 0 && grams > estimate_grams) {
    v1::Anomaly an;
    an.set_kind("site_volume_above_estimate");
    an.set_lot_id(lot.lot_id());
    an.set_detail("site '" + s.site_id() + "' tagged " + GramsText(grams) +
                  " this month, above its estimate of " + GramsText(estimate_grams));
    effects_.anomalies.push_back(std::move(an));
  }
  return {};
}

Result<void> Execution::DispatchLots(const v1::DispatchLots& a) {
  auto signer = RequireSigner(
      {v1::ROLE_COOPERATIVE, v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER},
      "dispatch lots");
  if (!signer) return tl::unexpected(signer.error());
  std::vector<std::string> ids(a.lot_ids().begin(), a.lot_ids().end());
  MT_TRY(CheckDistinct(ids));
  if (a.receiver_key() == signer_) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "a holder cannot dispatch lots to itself"));
  }
  auto receiver = RequireCounterpart(
      a.receiver_key(),
      {v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER, v1::ROLE_SMELTER}, "receiver");
  if (!receiver) return tl::unexpected(receiver.error());
  for (const auto& id : ids) {
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    if (lot->status() != v1::LOT_STATUS_HELD || lot->holder_key() != signer_) {
      std::string state = lot->status() == v1::LOT_STATUS_IN_TRANSIT ? "is in transit"
                          : lot->status() != v1::LOT_STATUS_HELD    ? "is no longer held"
                                                                    : "is held by another member";
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "lot '" + id + "' " + state +
                                       "; only its current holder may dispatch it"));
    }
    MT_TRY(CheckLotTime(*lot));
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_IN_TRANSIT);
    next.clear_holder_key();
    next.set_dispatched_by(signer_);
    next.set_dispatched_to(a.receiver_key());
    next.set_dispatched_weight_grams(lot->weight_grams());
    TouchLot(*lot, std::move(next));
  }
  return {};
}

Result<void> Execution::ReceiveLots(const v1::ReceiveLots& a) {
  auto signer = RequireSigner(
      {v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER, v1::ROLE_SMELTER}, "receive lots");
  if (!signer) return tl::unexpected(signer.error());
  std::vector<std::string> ids;
  for (const auto& r : a.lots()) ids.push_back(r.lot_id());
  MT_TRY(CheckDistinct(ids));
  for (const auto& r : a.lots()) {
    if (r.weight_grams() == 0 || r.weight_grams() > kMaxLotWeightGrams) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "lot '" + r.lot_id() +
                                       "': received weight must be more than 0 and at most 100 t"));
    }
    auto lot = LoadLot(r.lot_id());
    if (!lot) return tl::unexpected(lot.error());
    if (lot->status() != v1::LOT_STATUS_IN_TRANSIT || lot->dispatched_to() != signer_) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "lot '" + r.lot_id() +
                                       "' is not in transit to the signer; only the named "
                                       "receiver may receive it"));
    }
    MT_TRY(CheckLotTime(*lot));
    uint64_t sent = lot->dispatched_weight_grams();
    uint64_t diff = sent > r.weight_grams() ? sent - r.weight_grams() : r.weight_grams() - sent;
    if (diff * 10000 > sent * kReceiptWeightToleranceBasisPoints) {
      v1::Anomaly an;
      an.set_kind("receipt_weight_mismatch");
      an.set_lot_id(r.lot_id());
      an.set_detail("dispatched " + GramsText(sent) + ", received " + GramsText(r.weight_grams()));
      effects_.anomalies.push_back(std::move(an));
    }
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_HELD);
    next.set_holder_key(signer_);
    next.set_weight_grams(r.weight_grams());
    next.clear_dispatched_by();
    next.clear_dispatched_to();
    next.clear_dispatched_weight_grams();
    TouchLot(*lot, std::move(next));
  }
  return {};
}

Result<void> Execution::CancelDispatch(const v1::CancelDispatch& a) {
  auto signer = RequireSigner(
      {v1::ROLE_COOPERATIVE, v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER},
      "cancel dispatches");
  if (!signer) return tl::unexpected(signer.error());
  std::vector<std::string> ids(a.lot_ids().begin(), a.lot_ids().end());
  MT_TRY(CheckDistinct(ids));
  for (const auto& id : ids) {
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    if (lot->status() != v1::LOT_STATUS_IN_TRANSIT || lot->dispatched_by() != signer_) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "lot '" + id +
                                       "' is not in transit from the signer; only its sender "
                                       "may cancel a dispatch"));
    }
    MT_TRY(CheckLotTime(*lot));
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_HELD);
    next.set_holder_key(signer_);
    next.clear_dispatched_by();
    next.clear_dispatched_to();
    next.clear_dispatched_weight_grams();
    TouchLot(*lot, std::move(next));
  }
  return {};
}

}  // namespace

v1::SiteStatus EffectiveSiteStatus(const v1::MineSite& site, int64_t time_ms) {
  constexpr int64_t kYearMs = 365 * kDayMs;
  int64_t since = time_ms - site.last_inspection_ms();
  switch (site.status()) {
    case v1::SITE_STATUS_GREEN:
      // Blue after a year without inspection, then red after three years of blue.
      if (since > 4 * kYearMs) return v1::SITE_STATUS_RED;
      if (since > kYearMs) return v1::SITE_STATUS_BLUE;
      return v1::SITE_STATUS_GREEN;
    case v1::SITE_STATUS_BLUE:
      // Recorded blue at its last inspection: red after three years more.
      return since > 3 * kYearMs ? v1::SITE_STATUS_RED : v1::SITE_STATUS_BLUE;
    default:
      return site.status();
  }
}

Result<TxEffects> ExecuteTx(StateView& view, const BlockContext& ctx, const v1::TxBody& body,
                            std::string_view signer,
                            std::vector<v1::Anomaly>* /*refusal_anomalies*/) {
  MT_ASSERT(signer.size() == 32);
  Execution e(view, ctx, body, signer);
  return e.Run();
}

}  // namespace minetrace::ledger
